package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemandAndRegistrationPages: the §45(1) demand flow through the pages,
// and the board's registration form refusing bad input with 4xx, never 500.
func TestDemandAndRegistrationPages(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	mia, tom, anna := w.members["Mia"], w.members["Tom"], w.board

	resp, body := mia.submit("/demands", "/demands", url.Values{"purpose": {""}, "reasons": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Say what the assembly is to decide.")
	resp, _ = mia.submit("/demands", "/demands", url.Values{"purpose": {"Elect a new board"}, "reasons": {"The board has resigned."}})
	wantStatus(t, resp, http.StatusSeeOther)
	m := regexp.MustCompile(`^/demands/([0-9a-f-]+)$`).FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("after demanding: %q", resp.Header.Get("Location"))
	}
	page := "/demands/" + m[1]
	_, body = tom.get(page)
	wantContains(t, body, "Elect a new board", "1 of 1", "Support this demand")
	resp, _ = tom.submit(page, page+"/support", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = tom.submit(page, page+"/support", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "You already support this demand.")
	_, body = anna.get(page)
	wantContains(t, body, "2 of 1", `href="/board/assemblies/new?demand=`+m[1]+`"`)
	_, body = anna.get("/board/assemblies/new?demand=" + m[1])
	wantContains(t, body, `name="demand_id" value="`+m[1]+`"`, "Europe/Berlin")

	// The registration form: the board only, a day, an existing change.
	resp, _ = mia.submit("/rules", "/board/registrations/nope", url.Values{"registered_on": {"2026-01-01"}})
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = anna.submit("/rules", "/board/registrations/nope", url.Values{"registered_on": {"soon"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter the day as YYYY-MM-DD.")
	resp, _ = anna.submit("/rules", "/board/registrations/nope", url.Values{"registered_on": {"2026-01-01"}})
	wantStatus(t, resp, http.StatusNotFound)
	_, body = mia.get("/rules")
	wantContains(t, body, `id="registrations"`, "bylaw rule", "by resolution")
	if strings.Contains(body, "/board/registrations/") {
		t.Error("a member is offered the board's registration form")
	}
}

// TestConductRefusals: the conduct and minutes actions answer bad input and
// actions out of turn with 4xx pages, never 500.
func TestConductRefusals(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	mia, anna := w.members["Mia"], w.board
	resp, _ := anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"AGM"},
		"form": {"virtual"}, "access_details": {"https://meet.example.org/x"}, "voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	id := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]
	page := "/assemblies/" + id
	for _, c := range []struct {
		path   string
		form   url.Values
		status int
		text   string
	}{
		{page + "/contributions", url.Values{"kind": {"rant"}, "text": {"x"}}, http.StatusUnprocessableEntity, "Choose a speech, a question, an answer or a motion."},
		{page + "/contributions", url.Values{"kind": {"question"}, "text": {"Why?"}}, http.StatusConflict, "The assembly has not begun yet."},
		{page + "/attend", url.Values{"mode": {"telepathy"}}, http.StatusUnprocessableEntity, "Say whether you take part in person or online."},
		{page + "/motions/nope/decide", url.Values{"decision": {"admitted"}}, http.StatusForbidden, "Only the chair decides on motions."},
		{page + "/items/nope/objection", url.Values{"objection": {"no"}}, http.StatusConflict, "Objections are declared at the assembly"},
		{page + "/declare", url.Values{}, http.StatusForbidden, "Only the chair declares the results."},
		{page + "/minutes/sign", url.Values{}, http.StatusConflict, "The minutes are signed after voting has closed."},
		{"/assemblies/nope/contributions", url.Values{"kind": {"question"}, "text": {"x"}}, http.StatusNotFound, ""},
	} {
		resp, body := mia.submit(page, c.path, c.form)
		wantStatus(t, resp, c.status)
		if c.text != "" {
			wantContains(t, body, c.text)
		}
	}
	resp, body := anna.submit("/board/assemblies/"+id, "/board/assemblies/"+id+"/chair", url.Values{"chair_email": {"nobody@example.org"}, "chair_location": {"Berlin"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No account of the cooperative has this email address.", `value="nobody@example.org"`)
	resp, _ = mia.submit(page, "/board/assemblies/"+id+"/chair", url.Values{"chair_email": {memberEmail("Mia")}, "chair_location": {"Berlin"}})
	wantStatus(t, resp, http.StatusForbidden)
}
