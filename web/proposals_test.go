package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"allmende/models/rulebook"
)

// TestProposalSearchAndPages: the list is searched by words and status
// and paged newest first, on the page and in the API; a parameter change
// reads old → new in euros; support that reaches the threshold reads as
// met, not as "2 of 1".
func TestProposalSearchAndPages(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	mia, tom := w.members["Mia"], w.members["Tom"]
	cores := propose(t, mia, "More cores", rulebook.RuleEntitlementVCPUs, "8")
	shares := propose(t, mia, "Cheaper shares", rulebook.RuleSharePriceCents, "75.50")
	disk := propose(t, tom, "Bigger disks", rulebook.RuleEntitlementDisk, "40")

	// Euros, not cents: the share's price is typed and shown in euros.
	_, body := mia.get("/proposals/" + shares)
	wantContains(t, body, `<strong class="new-value">€75.50</strong>`, `<span class="old-value">€`)
	_, body = mia.get("/proposals/" + disk)
	wantContains(t, body, `<strong class="new-value">40 GiB</strong>`)
	resp, body := mia.submit("/proposals/new", "/proposals/new", url.Values{"kind": {"parameters"}, "title": {"Odd"},
		"reasoning": {"x"}, "parameter": {rulebook.RuleSharePriceCents}, "new_value": {"a lot"}, "effective_from": {today()}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter an amount in euros, such as 120,50.")

	// Support: two members, one tenth rounds up to 1; two supporters are
	// enough, and the list says so.
	for _, c := range []*client{mia, tom} {
		resp, _ := c.submit("/proposals/"+cores, "/proposals/"+cores+"/support", url.Values{})
		wantStatus(t, resp, http.StatusSeeOther)
	}
	_, body = mia.get("/proposals")
	wantContains(t, body, `<span class="badge ok">2 supporters — enough (1 needed)</span>`, "0 of 1 needed")
	if strings.Contains(body, "2 of 1") {
		t.Error(`the list still reads "2 of 1"`)
	}

	// Search by word (title, reasoning, author), by status; a bad status is a 400.
	_, body = mia.get("/proposals?q=CHEAPER")
	wantContains(t, body, "Cheaper shares", `value="CHEAPER"`)
	for _, other := range []string{"More cores", "Bigger disks"} {
		if strings.Contains(body, other) {
			t.Errorf("searching for cheaper finds %q", other)
		}
	}
	_, body = mia.get("/proposals?q=" + url.QueryEscape("Tom Member"))
	if !strings.Contains(body, "Bigger disks") || strings.Contains(body, "Cheaper shares") {
		t.Error("search by author finds the wrong proposals")
	}
	_, body = mia.get("/proposals?q=100%25")
	wantContains(t, body, "No proposal matches this search.")
	_, body = mia.get("/proposals?status=rejected")
	wantContains(t, body, "No proposal matches this search.")
	resp, _ = mia.get("/proposals?status=bogus")
	wantStatus(t, resp, http.StatusBadRequest)

	// Pages of two through the API, newest first, then the page itself.
	token := tokenFor(t, w.d, memberEmail("Mia"))
	type page struct {
		Proposals     []struct{ ID string }
		Next          *string
		SupportNeeded int `json:"support_needed"`
	}
	resp, body = mia.api(http.MethodGet, "/api/v1/proposals?limit=2", token)
	wantStatus(t, resp, http.StatusOK)
	p1 := decode[page](t, body)
	if len(p1.Proposals) != 2 || p1.Proposals[0].ID != disk || p1.Proposals[1].ID != shares || p1.Next == nil || p1.SupportNeeded != 1 {
		t.Fatalf("first page: %s", body)
	}
	resp, body = mia.api(http.MethodGet, "/api/v1/proposals?limit=2&before="+*p1.Next, token)
	wantStatus(t, resp, http.StatusOK)
	if p2 := decode[page](t, body); len(p2.Proposals) != 1 || p2.Proposals[0].ID != cores || p2.Next != nil {
		t.Errorf("second page: %s", body)
	}
	resp, body = mia.api(http.MethodGet, "/api/v1/proposals?q=disks&status=submitted", token)
	wantStatus(t, resp, http.StatusOK)
	if p := decode[page](t, body); len(p.Proposals) != 1 || p.Proposals[0].ID != disk {
		t.Errorf("search: %s", body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "status=open", "before=nope"} {
		resp, _ = mia.api(http.MethodGet, "/api/v1/proposals?"+q, token)
		wantStatus(t, resp, http.StatusBadRequest)
	}
	// The page pages by number, as every list of the web does: the third
	// of pages of one keeps the search and links back.
	_, body = mia.get("/proposals?per_page=1&page=3")
	wantContains(t, body, "More cores", `href="/proposals?page=2&amp;per_page=1" rel="prev"`, "page 3 of 3")
	if strings.Contains(body, `rel="next"`) {
		t.Error("the last page links to a next one")
	}
	if regexp.MustCompile(`Bigger disks|Cheaper shares`).MatchString(body) {
		t.Error("the second page repeats newer proposals")
	}
}
