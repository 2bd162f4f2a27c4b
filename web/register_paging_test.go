package web_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"allmende/models/account"
)

// TestRegisterSearchAndPages: the board's register is searched and read a
// page at a time, with paid and owed capital, in the browser (both
// languages) and through the API, which refuses a bad page number.
func TestRegisterSearchAndPages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	d := openDomain(t, cfg)
	names := []string{"Ada Lovelace", "Grace Hopper", "Hedy Lamarr"}
	for i, name := range names {
		email := "m" + strconv.Itoa(i) + "@example.org"
		createUser(t, srv, email)
		c := newClient(t, base)
		c.login(email, "correct horse battery")
		resp, _ := c.submit("/membership", "/membership/apply", joinValues(name, "2"))
		wantStatus(t, resp, http.StatusSeeOther)
		admitWithPayment(t, d, int64(i+1)*2500, "anna@board.example", "ben@board.example")
	}
	board := newClient(t, base)
	board.login("anna@board.example", "correct horse battery")

	resp, body := board.get("/board/members?per_page=1&page=2")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Grace Hopper", "2–2 of 3", "page 2 of 3", `rel="prev"`, `rel="next"`,
		`<td class="paid">€50.00</td>`, `<td class="owed owing">€50.00</td>`)
	wantNotContains(t, body, "Ada Lovelace", "Hedy Lamarr")
	resp, body = board.get("/board/members?q=hedy")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Hedy Lamarr", "1–1 of 1", `<td class="owed owing">€25.00</td>`)
	wantNotContains(t, body, "Grace Hopper", `rel="next"`)

	req, _ := http.NewRequest(http.MethodGet, base+"/board/members?per_page=1&page=2", nil)
	req.Header.Set("Accept-Language", "de")
	_, body = board.do(req)
	wantContains(t, body, "Seite 2 von 3", "50,00 €", "Weiter ›", "Mitgliedsnummer")
	resp, _ = board.get("/board/members?page=0")
	wantStatus(t, resp, http.StatusBadRequest)

	token := tokenFor(t, d, "anna@board.example")
	resp, body = board.api(http.MethodGet, "/api/v1/members?per_page=2&page=2", token)
	wantStatus(t, resp, http.StatusOK)
	var out struct {
		Members []struct {
			Name      string `json:"name"`
			PaidCents int64  `json:"paid_cents"`
			OwedCents int64  `json:"owed_cents"`
		} `json:"members"`
		Total, Page, PerPage int
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if out.Total != 3 || out.Page != 2 || len(out.Members) != 1 || out.Members[0].Name != "Hedy Lamarr" ||
		out.Members[0].PaidCents != 7500 || out.Members[0].OwedCents != 2500 {
		t.Errorf("page 2 of the register = %s", body)
	}
	resp, body = board.api(http.MethodGet, "/api/v1/members?q=grace", token)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"total":1`, "Grace Hopper")
	for _, bad := range []string{"page=0", "page=x", "per_page=501"} {
		resp, _ = board.api(http.MethodGet, "/api/v1/members?"+bad, token)
		wantStatus(t, resp, http.StatusBadRequest)
	}
}

func wantNotContains(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(body, p) {
			t.Errorf("page contains %q", p)
		}
	}
}
