package web_test

import (
	"net/http"
	"testing"
	"time"
)

// The board names an assembly's trustees through the API as on the
// election page: a member is refused, an unknown address or a threshold
// above the trustees is a field error, the named trustees show in the
// ceremony's state (register phase, nobody registered yet), and naming
// them anew starts over. Once voting has opened they can no longer change.
func TestElectionSetUpAPI3(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	c := newClient(t, w.base)
	anna, mia := tokenFor(t, w.d, "anna@board.example"), tokenFor(t, w.d, memberEmail("Mia"))
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/assemblies", anna, `{"title":"Annual assembly","form":"virtual","access_details":"https://meet.example.org/annual","voting_start":"`+
		at(30*24*time.Hour)+`","voting_end":"`+at(32*24*time.Hour)+`"}`)
	wantStatus(t, resp, http.StatusCreated)
	a := decode[assemblyJSON](t, body)
	setup := "/api/v1/assemblies/" + a.ID + "/election"

	resp, _ = apiJSON(c, http.MethodPost, setup, mia, `{"trustees":["anna@board.example"],"threshold":1}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, setup, anna, `{"trustees":["anna@board.example","nobody@example.org"],"threshold":1}`)
	wantFieldError(t, resp, body, "trustees")
	resp, body = apiJSON(c, http.MethodPost, setup, anna, `{"trustees":["anna@board.example","ben@board.example"],"threshold":3}`)
	wantFieldError(t, resp, body, "threshold")
	resp, _ = apiJSON(c, http.MethodPost, "/api/v1/assemblies/01a235c4-55b3-77ca-9175-3d3d0f56eda8/election", anna, `{"trustees":["anna@board.example"],"threshold":1}`)
	wantStatus(t, resp, http.StatusNotFound)
	if n := w.d.count(t, "election_trustees", ""); n != 0 {
		t.Fatalf("refused set-ups named %d trustees", n)
	}

	type electionJSON struct {
		Phase     string `json:"phase"`
		Threshold int    `json:"threshold"`
		Revote    bool   `json:"revote"`
		Trustees  []struct {
			Index      int    `json:"index"`
			Name       string `json:"name"`
			Registered bool   `json:"registered"`
		} `json:"trustees"`
	}
	resp, body = apiJSON(c, http.MethodPost, setup, anna, `{"trustees":["anna@board.example","ben@board.example","mia@example.org"],"threshold":2,"revote":true}`)
	wantStatus(t, resp, http.StatusOK)
	e := decode[electionJSON](t, body)
	if e.Phase != "register" || e.Threshold != 2 || !e.Revote || len(e.Trustees) != 3 || e.Trustees[2].Name != "Mia Member" || e.Trustees[0].Registered {
		t.Fatalf("election after set-up: %s", body)
	}
	// The ceremony's state, as the trustees' browsers read it.
	resp, body = c.api(http.MethodGet, setup, mia)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"phase":"register"`, `"me":3`)
	// Named anew: two trustees, the old ones gone.
	resp, body = apiJSON(c, http.MethodPost, setup, anna, `{"trustees":["ben@board.example","anna@board.example","ben@board.example"],"threshold":2}`)
	wantStatus(t, resp, http.StatusOK)
	if e = decode[electionJSON](t, body); len(e.Trustees) != 2 || e.Trustees[0].Name != "Test ben@board.example" || e.Revote {
		t.Fatalf("election named anew: %s", body)
	}
	if n := w.d.count(t, "audit_events", "action = 'election.setup'"); n != 2 {
		t.Errorf("audited set-ups = %d, want 2", n)
	}

	// Once voting has opened (set here: the lifecycle is another test's), the
	// trustees stay.
	if err := w.d.db.Gorm.Exec("UPDATE assemblies SET status = 'voting' WHERE id = ?", a.ID).Error; err != nil {
		t.Fatal(err)
	}
	resp, _ = apiJSON(c, http.MethodPost, setup, anna, `{"trustees":["anna@board.example"],"threshold":1}`)
	wantStatus(t, resp, http.StatusConflict)
}
