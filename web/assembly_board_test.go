package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBoardAssemblyLifecycle: the board's page shows where the assembly
// stands (draft → invited → voting → closed) with the one next action as
// its button; the notice warning shows once, as a warning, also after a
// refused invitation; the item form groups its fields by kind.
func TestBoardAssemblyLifecycle(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	anna := w.board
	create := func(title string, start time.Duration) string {
		t.Helper()
		resp, body := anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {title}, "form": {"virtual"},
			"access_details": {"https://meet.example.org/a"}, "voting_start": {moment(start)}, "voting_end": {moment(start + 24*time.Hour)}})
		wantStatus(t, resp, http.StatusSeeOther)
		m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
		if m == nil {
			t.Fatalf("after creating: %q\n%s", resp.Header.Get("Location"), body)
		}
		return "/board/assemblies/" + m[1]
	}
	manage := create("Annual assembly", 40*24*time.Hour)
	_, body := anna.get(manage)
	wantContains(t, body, `<li class="current" aria-current="step">Draft</li>`, `<li class="todo">Invited</li>`,
		`action="`+manage+`/invite"`, `data-confirm="Send the invitation with the agenda to every member?"`,
		`class="only-election"`, `class="only-bylaw"`, `class="only-ordinary"`)
	for _, bad := range []string{`action="` + manage + `/open"`, `action="` + manage + `/close"`, "notice-warning"} {
		if strings.Contains(body, bad) {
			t.Errorf("a draft assembly with due notice shows %s", bad)
		}
	}
	resp, _ := anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"Accounts"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, `<li class="done">Draft</li>`, `<li class="current" aria-current="step">Invited</li>`, `action="`+manage+`/open"`)
	if strings.Contains(body, `action="`+manage+`/invite"`) {
		t.Error("an invited assembly still offers to send the invitations")
	}

	// Too soon: one warning, not an error — also when the invitation is refused.
	soon := create("Short notice", 3*24*time.Hour)
	resp, _ = anna.submit(soon, soon+"/items", url.Values{"kind": {"ordinary"}, "title": {"Accounts"}})
	wantStatus(t, resp, http.StatusSeeOther)
	for _, refused := range []bool{false, true} {
		if refused {
			resp, body = anna.submit(soon, soon+"/invite", url.Values{})
			wantStatus(t, resp, http.StatusConflict)
		} else {
			_, body = anna.get(soon)
		}
		wantContains(t, body, `<div class="flash warning notice-warning" role="status">`, "Too late for the notice period.")
		if n := strings.Count(body, "counts as received on"); n != 1 {
			t.Errorf("refused %v: the notice warning is said %d times", refused, n)
		}
		if strings.Contains(body, `class="flash error"`) {
			t.Errorf("refused %v: the notice warning shows as an error", refused)
		}
	}

	// In German: the stages, the button and the warning.
	req, _ := http.NewRequest(http.MethodGet, w.base+soon, nil)
	req.Header.Set("Accept-Language", "de")
	_, body = anna.do(req)
	wantContains(t, body, `aria-current="step">Entwurf</li>`, "Einladungen senden", "Zu spät für die Einladungsfrist.", "gilt am ")
	if !regexp.MustCompile(`bis zum Beginn der Versammlung am \d{1,2}\.\d{1,2}\.\d{4} bleiben dann \d`).MatchString(body) {
		t.Error("the German notice warning does not name the day the assembly begins, then the days left")
	}
	// Refused in German: the refusal is the same warning, said once.
	form := url.Values{"_csrf": {anna.csrf(soon)}}
	req, _ = http.NewRequest(http.MethodPost, w.base+soon+"/invite", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "de")
	resp, body = anna.do(req)
	wantStatus(t, resp, http.StatusConflict)
	if n := strings.Count(body, "als zugegangen"); n != 1 || strings.Contains(body, `class="flash error"`) {
		t.Errorf("refused in German: the notice warning is said %d times (error flash: %v)", n, strings.Contains(body, `class="flash error"`))
	}
}
