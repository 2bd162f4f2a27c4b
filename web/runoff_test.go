package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// TestBoardOpensRunoff: on the board's assembly page an election without a
// majority is closed and counted on its own ("Close and count this
// election"), then the "Open runoff" form puts its runoff on the agenda
// with its own end; refusals show in the page with their status.
func TestBoardOpensRunoff(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom", "Eva")
	mia, tom, eva, anna := w.members["Mia"], w.members["Tom"], w.members["Eva"], w.board
	resp, _ := anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"AGM"},
		"form": {"virtual"}, "access_details": {"https://meet.example.org/x"}, "voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	id := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]
	manage, page := "/board/assemblies/"+id, "/assemblies/"+id
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"election"}, "title": {"Supervisory board"}, "seats": {"1"},
		"candidates": {"Carla\nDan\nEd\n"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	w.shiftAssembly(t, id, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, _ = anna.submit(manage, manage+"/open", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)

	_, body := mia.get(page)
	cands := regexp.MustCompile(`name="candidate_ids" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(cands) != 3 {
		t.Fatalf("candidates on the ballot: %v", cands)
	}
	item := regexp.MustCompile(`id="item-([0-9a-f-]+)"`).FindStringSubmatch(body)
	if item == nil {
		t.Fatal("no agenda item on the page")
	}
	ballot := page + "/items/" + item[1] + "/ballot"
	resp, _ = mia.submit(page, ballot, url.Values{"candidate_ids": {cands[0][1]}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = tom.submit(page, ballot, url.Values{"candidate_ids": {cands[1][1]}})
	wantStatus(t, resp, http.StatusSeeOther)

	_, body = anna.get(manage)
	wantContains(t, body, "Close and count this election")
	closeRound, runoff := manage+"/items/"+item[1]+"/close", manage+"/items/"+item[1]+"/runoff"
	resp, body = anna.submit(manage, closeRound, url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "vote(s) of the electorate are not yet cast")
	resp, _ = mia.submit(page, closeRound, url.Values{})
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = eva.submit(page, ballot, url.Values{"choice": {"abstain"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, closeRound, url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "open the runoff between Carla, Dan", "First round counted:", "runoff between Carla, Dan", "Open runoff", `name="runoff_end"`)

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	local := func(d time.Duration) string { return time.Now().In(berlin).Add(d).Format("2006-01-02T15:04") }
	resp, body = anna.submit(manage, runoff, url.Values{"runoff_end": {"soon"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter when the runoff")
	resp, body = anna.submit(manage, runoff, url.Values{"runoff_end": {local(-time.Hour)}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "must end in the future")
	resp, _ = mia.submit(page, runoff, url.Values{"runoff_end": {local(2 * time.Hour)}})
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = anna.submit(manage, runoff, url.Values{"runoff_end": {local(2 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "The runoff is open until", "Runoff: Supervisory board", "Runoff, decided by plurality")
	resp, body = anna.submit(manage, runoff, url.Values{"runoff_end": {local(2 * time.Hour)}})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "already on the agenda")
	// Members see the first round counted and vote on the runoff; the
	// closed first round refuses ballots.
	_, body = mia.get(page)
	wantContains(t, body, "The vote on this election has closed; its count:", "Runoff of the election above, decided by plurality")
	if n := len(regexp.MustCompile(`name="candidate_ids"`).FindAllString(body, -1)); n != 2 {
		t.Errorf("runoff ballot not on the member's page (%d candidate boxes)", n)
	}
	resp, _ = mia.submit(page, ballot, url.Values{"candidate_ids": {cands[2][1]}})
	wantStatus(t, resp, http.StatusConflict)
}
