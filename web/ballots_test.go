package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"allmende/models/account"
)

// TestBallotJSONCalls: the calls of the ballot and trustee scripts answer
// refusals as JSON in the API's shape (the scripts show the message), need
// the CSRF header like every form, and 404 for an unknown assembly.
func TestBallotJSONCalls(t *testing.T) {
	srv, base, _ := startServer(t, "none")
	createUser(t, srv, "member@example.org", account.RoleMember)
	c := newClient(t, base)
	c.login("member@example.org", "correct horse battery")
	token := c.csrf("/assemblies")
	call := func(method, path, body, csrf string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		return c.do(req)
	}
	jsonError := func(body string, status int) {
		t.Helper()
		var e struct {
			Error struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Status != status || e.Error.Message == "" {
			t.Errorf("want a JSON error %d, got %q (%v)", status, body, err)
		}
	}
	resp, _ := call(http.MethodPost, "/assemblies/nope/items/x/encrypted-ballot", `{"ballot":{}}`, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body := call(http.MethodPost, "/assemblies/nope/items/x/encrypted-ballot", `{"ballot":`, token)
	wantStatus(t, resp, http.StatusBadRequest)
	jsonError(body, http.StatusBadRequest)
	resp, body = call(http.MethodPost, "/assemblies/nope/items/x/encrypted-ballot", `{"ballot":{"choices":[{"a":"00","b":"00"}]}}`, token)
	wantStatus(t, resp, http.StatusBadRequest) // not a group element
	jsonError(body, http.StatusBadRequest)
	resp, body = call(http.MethodPost, "/assemblies/nope/items/x/encrypted-ballot", `{"ballot":{"choices":[]}}`, token)
	wantStatus(t, resp, http.StatusNotFound)
	jsonError(body, http.StatusNotFound)
	resp, body = call(http.MethodGet, "/assemblies/nope/election/state", "", "")
	wantStatus(t, resp, http.StatusNotFound)
	jsonError(body, http.StatusNotFound)
	resp, body = call(http.MethodPost, "/assemblies/nope/election/register", `{"transport_key":"zz","commitments":[],"proof":{}}`, token)
	wantStatus(t, resp, http.StatusUnprocessableEntity) // not a public key
	jsonError(body, http.StatusUnprocessableEntity)
	resp, body = call(http.MethodPost, "/assemblies/nope/election/confirm", `{"verification_key":"00"}`, token)
	wantStatus(t, resp, http.StatusNotFound)
	jsonError(body, http.StatusNotFound)
	resp, _ = c.get("/assemblies/nope/election")
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = c.api(http.MethodGet, "/api/v1/assemblies/nope/election", "")
	wantStatus(t, resp, http.StatusUnauthorized)
	jsonError(body, http.StatusUnauthorized)
}
