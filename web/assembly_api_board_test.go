package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The board runs a general assembly through the API as on its pages:
// convene, agenda, chair, invite, open, close a round early, close. A
// member is refused every step; bad input gets field messages; steps out
// of order are conflicts.
func TestAssemblyAPIBoardLifecycle(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	c := newClient(t, w.base)
	anna, mia := tokenFor(t, w.d, "anna@board.example"), tokenFor(t, w.d, memberEmail("Mia"))
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

	create := `{"title":"Annual assembly","form":"virtual","access_details":"https://meet.example.org/annual","voting_start":"` +
		at(30*24*time.Hour) + `","voting_end":"` + at(32*24*time.Hour) + `"}`
	resp, _ := apiJSON(c, http.MethodPost, "/api/v1/assemblies", mia, create)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/assemblies", anna, strings.Replace(create, `"virtual"`, `"séance"`, 1))
	wantFieldError(t, resp, body, "form")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/assemblies", anna, strings.Replace(create, `"voting_end":"`, `"voting_end":"soon`, 1))
	wantFieldError(t, resp, body, "voting_end")
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/assemblies", anna, create)
	wantStatus(t, resp, http.StatusCreated)
	a := decode[assemblyJSON](t, body)
	if a.Status != "planned" || resp.Header.Get("Location") != "/api/v1/assemblies/"+a.ID {
		t.Fatalf("created: %s", body)
	}
	base := "/api/v1/assemblies/" + a.ID

	resp, _ = apiJSON(c, http.MethodPost, base+"/items", mia, `{"kind":"ordinary","title":"Accounts"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"ordinary","title":"Accounts","majority_num":1,"majority_den":3}`)
	wantFieldError(t, resp, body, "majority_num")
	resp, body = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"ordinary","title":"Accounts","excluded_emails":["nobody@example.org"]}`)
	wantFieldError(t, resp, body, "excluded_emails")
	resp, _ = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"ordinary","title":"Approve the annual accounts"}`)
	wantStatus(t, resp, http.StatusCreated)
	resp, body = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"election","title":"Supervisory board","seats":1,"candidates":["Carla","Dan"]}`)
	wantStatus(t, resp, http.StatusCreated)
	a = decode[assemblyJSON](t, body)
	if len(a.Items) != 2 {
		t.Fatalf("agenda: %s", body)
	}
	election := a.Items[1].ID

	resp, body = apiJSON(c, http.MethodPost, base+"/chair", anna, `{"chair_email":"nobody@example.org","chair_location":"Berlin"}`)
	wantFieldError(t, resp, body, "chair_email")
	resp, _ = apiJSON(c, http.MethodPost, base+"/chair", mia, `{"chair_email":"anna@board.example","chair_location":"Berlin"}`)
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, base+"/chair", anna, `{"chair_email":"anna@board.example","chair_location":"Berlin office"}`)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"chair":"Test anna@board.example"`)

	resp, _ = apiJSON(c, http.MethodPost, base+"/open", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiJSON(c, http.MethodPost, base+"/invitations", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, base+"/invitations", anna, "")
	wantStatus(t, resp, http.StatusOK)
	if strings.Contains(body, `"invited_at":null`) {
		t.Errorf("not invited: %s", body)
	}
	resp, _ = apiJSON(c, http.MethodPost, base+"/invitations", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	w.shiftAssembly(t, a.ID, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, _ = apiJSON(c, http.MethodPost, base+"/open", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, base+"/open", anna, "")
	wantStatus(t, resp, http.StatusOK)
	if a = decode[assemblyJSON](t, body); a.Status != "voting" {
		t.Errorf("not voting: %s", body)
	}
	resp, _ = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"ordinary","title":"Late item"}`)
	wantStatus(t, resp, http.StatusConflict)

	// Both members vote for Carla; the election's round closes early,
	// before the assembly's, as everybody voted: Carla is elected, no
	// runoff follows.
	var detail struct {
		Items []struct {
			ID         string `json:"id"`
			Candidates []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"candidates"`
		} `json:"items"`
	}
	_, body = c.api(http.MethodGet, base, mia)
	decodeInto(t, body, &detail)
	carla := detail.Items[1].Candidates[0]
	if carla.Name != "Carla" {
		t.Fatalf("candidates: %s", body)
	}
	for _, name := range []string{"Mia", "Tom"} {
		resp, _ = apiJSON(c, http.MethodPost, base+"/items/"+election+"/ballot", tokenFor(t, w.d, memberEmail(name)), `{"candidate_ids":["`+carla.ID+`"]}`)
		wantStatus(t, resp, http.StatusCreated)
	}
	round := base + "/items/" + election
	resp, _ = apiJSON(c, http.MethodPost, round+"/close", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, round+"/close", anna, "")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"elected":["Carla"]`, `"runoff":[]`)
	resp, _ = apiJSON(c, http.MethodPost, round+"/close", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, body = apiJSON(c, http.MethodPost, round+"/runoff", anna, `{"runoff_end":"tomorrow"}`)
	wantFieldError(t, resp, body, "runoff_end")
	resp, _ = apiJSON(c, http.MethodPost, round+"/runoff", anna, `{"runoff_end":"`+at(24*time.Hour)+`"}`)
	wantStatus(t, resp, http.StatusConflict)
	resp, body = apiJSON(c, http.MethodPost, round+"/appoint", anna, `{"term_start":"2027-01-01","term_end":"someday"}`)
	wantFieldError(t, resp, body, "term_end")

	resp, _ = apiJSON(c, http.MethodPost, base+"/close", anna, "")
	wantStatus(t, resp, http.StatusConflict) // not before the announced end
	w.shiftAssembly(t, a.ID, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Second))
	resp, _ = apiJSON(c, http.MethodPost, base+"/close", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiJSON(c, http.MethodPost, base+"/close", anna, "")
	wantStatus(t, resp, http.StatusOK)
	if a = decode[assemblyJSON](t, body); a.Status != "closed" {
		t.Errorf("not closed: %s", body)
	}
	resp, _ = apiJSON(c, http.MethodPost, base+"/close", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = c.api(http.MethodGet, base+"/results", mia)
	wantStatus(t, resp, http.StatusOK)
}
