package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"allmende/models/rulebook"
)

// NUL bytes, escape sequences and other control characters are refused in
// free text with a field error, and nothing is written; text of several
// lines keeps its line breaks and tabs.
func TestControlCharactersRefused(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	mia := w.members["Mia"]
	id := propose(t, mia, "More cores", rulebook.RuleEntitlementVCPUs, "8")
	page := "/proposals/" + id
	const msg = "This must not contain control characters."
	for _, bad := range []string{"nul\x00byte", "red \x1b[31mtext", "c1 \u0085 code", "bad \xff utf-8"} {
		resp, body := mia.submit(page, page+"/comments", url.Values{"text": {bad}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		wantContains(t, body, msg)
		resp, body = mia.submit("/account", "/account/tokens", url.Values{"name": {bad}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		wantContains(t, body, msg)
	}
	resp, body := mia.submit("/account", "/account/tokens", url.Values{"name": {"two\nlines"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, msg)
	if n := w.d.count(t, "proposal_comments", ""); n != 0 {
		t.Errorf("%d comments stored", n)
	}
	if n := w.d.count(t, "api_tokens", ""); n != 0 {
		t.Errorf("%d tokens stored", n)
	}

	// The API: a field error on the title, nothing stored.
	token := tokenFor(t, w.d, memberEmail("Mia"))
	in, _ := json.Marshal(map[string]string{"kind": "motion", "title": "Motion\x00", "reasoning": "Because\x1b[2J"})
	resp, body = apiJSON(mia, http.MethodPost, "/api/v1/proposals", token, string(in))
	wantAPIError(t, resp, body, http.StatusUnprocessableEntity, "invalid")
	if e := decodeAPIError(t, body); e.Fields["title"] != msg || e.Fields["reasoning"] != msg {
		t.Errorf("fields: %+v", e.Fields)
	}
	if n := w.d.count(t, "proposals", ""); n != 1 {
		t.Errorf("%d proposals stored, want 1", n)
	}

	// Line breaks and tabs are fine in a comment.
	resp, _ = mia.submit(page, page+"/comments", url.Values{"text": {"First line\r\n\tindented"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if n := w.d.count(t, "proposal_comments", ""); n != 1 {
		t.Errorf("%d comments stored, want 1", n)
	}
}
