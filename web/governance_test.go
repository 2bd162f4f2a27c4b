package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/rulebook"
	"allmende/web"
)

// governanceWorld is a cooperative with two board members and admitted
// members, each with a signed-in client.
type governanceWorld struct {
	srv     *web.Server
	base    string
	cfg     *web.Config
	d       *domain
	board   *client // anna, board
	members map[string]*client
}

func newGovernanceWorld(t *testing.T, members ...string) *governanceWorld {
	t.Helper()
	srv, base, cfg := startServer(t, "none")
	w := &governanceWorld{srv: srv, base: base, cfg: cfg, d: openDomain(t, cfg), members: map[string]*client{}}
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	for _, name := range members {
		w.admit(t, name)
		c := newClient(t, base)
		c.login(memberEmail(name), "correct horse battery")
		w.members[name] = c
	}
	w.board = newClient(t, base)
	w.board.login("anna@board.example", "correct horse battery")
	return w
}

// shiftAssembly moves an assembly's voting period, as if time had passed
// (the server runs on the system clock).
func (w *governanceWorld) shiftAssembly(t *testing.T, id string, start, end time.Time) {
	t.Helper()
	if err := w.d.db.Gorm.Exec("UPDATE assemblies SET voting_start = ?, voting_end = ?, invited_at = CASE WHEN invited_at IS NULL THEN NULL ELSE ? END WHERE id = ?",
		start.UTC(), end.UTC(), start.UTC().AddDate(0, 0, -30), id).Error; err != nil {
		t.Fatal(err)
	}
}

func memberEmail(name string) string { return strings.ToLower(name) + "@example.org" }

// admit files an application and has both board members approve it.
func (w *governanceWorld) admit(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	id := w.d.apply(t, memberEmail(name), name+" Member", 1)
	for _, email := range []string{"anna@board.example", "ben@board.example"} {
		u, err := w.d.accounts.ByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.d.members.Approve(ctx, models.Actor{UserID: u.ID, Email: u.Email}, id); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *governanceWorld) userID(t *testing.T, name string) string {
	t.Helper()
	u, err := w.d.accounts.ByEmail(context.Background(), memberEmail(name))
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func (w *governanceWorld) vcpus(t *testing.T) int {
	t.Helper()
	p, err := w.d.rules.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p.EntitlementPerShare.VCPUs
}

func today() string { return time.Now().UTC().Format(time.DateOnly) }

func moment(d time.Duration) string { return time.Now().UTC().Add(d).Format("2006-01-02T15:04") }

var proposalIDRE = regexp.MustCompile(`^/proposals/([0-9a-f-]+)$`)

// propose submits a parameter change through the form and returns its id.
func propose(t *testing.T, c *client, title, key, value string) string {
	t.Helper()
	resp, body := c.submit("/proposals/new", "/proposals/new", url.Values{"kind": {"parameters"}, "title": {title},
		"reasoning": {"More cores for everyone."}, "parameter": {key}, "new_value": {value}, "effective_from": {today()}})
	wantStatus(t, resp, http.StatusSeeOther)
	m := proposalIDRE.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("after submitting: %q\n%s", resp.Header.Get("Location"), body)
	}
	return m[1]
}

func TestGovernanceRulesPages(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	c := w.members["Mia"]

	resp, body := c.get("/rules")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `href="/rules"`, `href="/proposals"`, `href="/assemblies"`, "vCPUs per paid share",
		`href="/rules/bylaws_text"`, "since founding")
	if strings.Contains(body, `href="/board/assemblies/new"`) {
		t.Error("a member sees the board's New assembly link")
	}
	_, body = w.board.get("/rules")
	wantContains(t, body, `href="/board/assemblies/new"`)

	resp, body = c.get("/rules/entitlement_vcpus")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "vCPUs per paid share", "Version 1")
	resp, _ = c.get("/rules/no_such_rule")
	wantStatus(t, resp, http.StatusNotFound)

	// Two versions: the history shows the change as a diff, and any two
	// versions can be compared; unknown versions are a 422, not a 500.
	ctx := context.Background()
	if err := w.d.rules.Set(ctx, models.SystemActor("test"), rulebook.RuleHouseRulesText, "Be kind.\nShare the cores.",
		time.Now().Add(-time.Minute), "initial"); err != nil {
		t.Fatal(err)
	}
	hist, err := w.d.rules.History(ctx, rulebook.RuleHouseRulesText)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %v %v", hist, err)
	}
	_, body = c.get("/rules/house_rules_text")
	wantContains(t, body, `<ins class="diff-add">+ Be kind.</ins>`, `<ins class="diff-add">+ Share the cores.</ins>`, `<del class="diff-del">- The house rules`)
	resp, body = c.get("/rules/house_rules_text?from=" + hist[1].ID + "&to=" + hist[0].ID)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `<del class="diff-del">- Share the cores.</del>`)
	resp, body = c.get("/rules/house_rules_text?from=nope&to=" + hist[0].ID)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose two versions")

	token := tokenFor(t, w.d, memberEmail("Mia"))
	resp, body = c.api(http.MethodGet, "/api/v1/rules", token)
	wantStatus(t, resp, http.StatusOK)
	rules := decode[struct {
		Rules []struct {
			Key, Kind, Value, AdoptedBy string
			Versions                    int
		} `json:"rules"`
	}](t, body)
	found := false
	for _, r := range rules.Rules {
		if r.Key == rulebook.RuleHouseRulesText {
			found = r.Kind == "text" && r.Value == "Be kind.\nShare the cores." && r.Versions == 2
		}
	}
	if !found {
		t.Errorf("rules API: %s", body)
	}

	// Signed out: to the login page.
	resp, _ = newClient(t, w.base).get("/rules")
	wantStatus(t, resp, http.StatusSeeOther)
}

func TestProposalBadParameter(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	c := w.members["Mia"]
	vcpus := strconv.Itoa(w.vcpus(t))

	resp, body := c.get("/proposals/new")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `<option value="entitlement_vcpus">vCPUs per paid share (now `+vcpus+`)</option>`, `name="new_value"`,
		`name="new_text"`, `name="rule_key"`)

	form := url.Values{"kind": {"parameters"}, "title": {"More cores"}, "reasoning": {"Because."},
		"parameter": {"entitlement_vcpus"}, "new_value": {"lots"}, "effective_from": {today()}}
	resp, body = c.submit("/proposals/new", "/proposals/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number from 0 to 1024.", `aria-invalid="true"`, `value="lots"`, `value="More cores"`,
		`<option value="entitlement_vcpus" selected>`)

	// No parameter chosen, or no value: field errors; a mistyped date too.
	form.Set("parameter", "")
	resp, body = c.submit("/proposals/new", "/proposals/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose the parameter to change.")
	form.Set("parameter", "entitlement_vcpus")
	form.Set("new_value", " ")
	resp, body = c.submit("/proposals/new", "/proposals/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter the new value.")
	form.Set("new_value", "4")
	form.Set("effective_from", "soon")
	resp, body = c.submit("/proposals/new", "/proposals/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a date as YYYY-MM-DD.", `value="soon"`, `value="4"`)

	token := tokenFor(t, w.d, memberEmail("Mia"))
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/proposals", token,
		`{"kind":"parameters","title":"More","reasoning":"x","parameters":{"entitlement_vcpus":"x"},"effective_from":"`+today()+`"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["param:entitlement_vcpus"] == "" {
		t.Errorf("422 without the parameter's message: %+v", e)
	}
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/proposals", token, `{"kind":"parameters","title":`)
	wantStatus(t, resp, http.StatusBadRequest)
	decodeAPIError(t, body)
	if n := w.d.count(t, "proposals", ""); n != 0 {
		t.Errorf("bad proposals saved: %d", n)
	}

	// Numbers are accepted as numbers.
	resp, body = apiJSON(c, http.MethodPost, "/api/v1/proposals", token,
		`{"kind":"parameters","title":"More","reasoning":"x","parameters":{"entitlement_vcpus":4},"effective_from":"`+today()+`"}`)
	wantStatus(t, resp, http.StatusCreated)
	p := decode[struct {
		Parameters map[string]string `json:"parameters"`
		Status     string            `json:"status"`
	}](t, body)
	if p.Parameters["entitlement_vcpus"] != "4" || p.Status != "submitted" {
		t.Errorf("created: %s", body)
	}
}

func TestProposalSupportAndComments(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	mia, tom := w.members["Mia"], w.members["Tom"]
	id := propose(t, mia, "More cores", rulebook.RuleEntitlementVCPUs, "8")

	resp, body := mia.get("/proposals")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "More cores", "submitted, collecting support")
	resp, body = mia.get("/proposals/" + id)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Support this proposal", `<strong class="new-value">8</strong>`, "0 of 1 needed")
	if strings.Contains(body, "must be placed") {
		t.Error("an unsupported proposal must be placed")
	}

	// Comments: empty is refused with the form kept, then one is added.
	page := "/proposals/" + id
	resp, body = tom.submit(page, page+"/comments", url.Values{"text": {"  "}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Write your comment.")
	resp, _ = tom.submit(page, page+"/comments", url.Values{"text": {"Yes please <b>now</b>"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mia.get(page)
	wantContains(t, body, "Yes please &lt;b&gt;now&lt;/b&gt;", "Tom Member")

	// Support: once through the page, a second time is a conflict.
	resp, _ = mia.submit(page, page+"/support", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = mia.submit(page, page+"/support", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "You already support this proposal.", "must be placed on the agenda of the next general assembly")

	token := tokenFor(t, w.d, memberEmail("Tom"))
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/proposals/"+id+"/support", token, "")
	wantStatus(t, resp, http.StatusOK)
	if p := decode[struct{ Supporters int }](t, body); p.Supporters != 2 {
		t.Errorf("supporters: %s", body)
	}
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/proposals/"+id+"/support", token, "")
	wantStatus(t, resp, http.StatusConflict)
	if e := decodeAPIError(t, body); e.Code != "conflict" {
		t.Errorf("409 body: %+v", e)
	}
	resp, _ = apiJSON(tom, http.MethodPost, "/api/v1/proposals/nope/support", token, "")
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = tom.api(http.MethodGet, "/api/v1/proposals", token)
	wantStatus(t, resp, http.StatusOK)
	if ps := decode[struct{ Proposals []struct{ ID string } }](t, body); len(ps.Proposals) != 1 || ps.Proposals[0].ID != id {
		t.Errorf("proposals: %s", body)
	}

	// The board may read proposals but not support them.
	resp, _ = w.board.get(page)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = w.board.submit(page, page+"/support", url.Values{})
	wantStatus(t, resp, http.StatusForbidden)
}

type assemblyJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Items  []struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		Secret bool   `json:"secret"`
	} `json:"items"`
	Rights []struct {
		OnBehalfOf string          `json:"on_behalf_of"`
		Name       string          `json:"name"`
		Voted      map[string]bool `json:"voted"`
	} `json:"rights"`
	Electorate int `json:"electorate"`
}

var assemblyLocationRE = regexp.MustCompile(`^/board/assemblies/([0-9a-f-]+)$`)

func TestAssemblyFlow(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom", "Eva")
	mia, tom, eva, anna := w.members["Mia"], w.members["Tom"], w.members["Eva"], w.board
	before := w.vcpus(t)
	after := strconv.Itoa(before + 3)
	proposal := propose(t, mia, "More cores", rulebook.RuleEntitlementVCPUs, after)

	// The board convenes an assembly; bad dates are field errors.
	resp, body := anna.get("/board/assemblies/new")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "two phases: online discussion, then vote")
	form := url.Values{"title": {"Annual assembly 2026"}, "description": {"Online."}, "form": {"virtual"},
		"voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {"soon"}}
	resp, body = anna.submit("/board/assemblies/new", "/board/assemblies/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a date and time", `value="Annual assembly 2026"`, `value="soon"`)
	form.Set("voting_end", moment(29*24*time.Hour))
	resp, body = anna.submit("/board/assemblies/new", "/board/assemblies/new", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Voting must end after it starts.", "Say how members take part online")
	form.Set("voting_end", moment(31*24*time.Hour))
	form.Set("access_details", "https://meet.example.org/annual")
	resp, _ = anna.submit("/board/assemblies/new", "/board/assemblies/new", form)
	wantStatus(t, resp, http.StatusSeeOther)
	m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("after creating: %q", resp.Header.Get("Location"))
	}
	id := m[1]
	manage := "/board/assemblies/" + id

	// A supported proposal must be placed; the board puts it on the agenda.
	resp, _ = tom.submit("/proposals/"+proposal, "/proposals/"+proposal+"/support", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, `id="must-place"`, "More cores", `<option value="`+proposal+`">More cores (Mia Member)</option>`)
	resp, body = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "majority_num": {"1"}, "majority_den": {"3"}, "proposal_id": {proposal}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "The law asks for at least 1/2", `value="1"`, `value="3"`)
	resp, body = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "quorum": {"many"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number of votes", `value="many"`)
	resp, body = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"x"}, "excluded": {"nobody@example.org"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No account has the email nobody@example.org.")
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "proposal_id": {proposal}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"Approve the annual accounts"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"election"}, "title": {"Supervisory board"}, "seats": {"1"},
		"candidates": {"Carla\nDan\n"}, "excluded": {memberEmail("Eva")}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "Item Supervisory board added to the agenda.", "Candidates:", "Carla", "1 member is excluded from this vote.")
	if strings.Contains(body, `id="must-place"`) {
		t.Error("a placed proposal is still listed as to be placed")
	}

	// Eva authorises Tom before voting opens.
	page := "/assemblies/" + id
	resp, body = eva.submit(page, page+"/proxy", url.Values{"proxy_email": {"nobody@example.org"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No member of the cooperative has this email address.", `value="nobody@example.org"`)
	resp, _ = eva.submit(page, page+"/proxy", url.Values{"proxy_email": {memberEmail("Tom")}, "declaration": {"I authorise Tom."}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = eva.get(page)
	wantContains(t, body, "Tom Member", "Revoke proxy", "I authorise Tom.")
	_, body = tom.get(page)
	wantContains(t, body, "Proxies you hold", "Eva Member")

	// Invitations with due notice, then voting: the test moves the
	// assembly's dates to now, as if the weeks had passed.
	resp, _ = anna.submit(manage, manage+"/open", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = anna.submit(manage, manage+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "The invitations are being sent", "Taking part online", "https://meet.example.org/annual")
	w.shiftAssembly(t, id, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, _ = anna.submit(manage, manage+"/open", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "Voting is open.", `hx-get="/board/assemblies/`+id+`/turnout"`, "0 of 3")

	tokens := map[string]string{}
	for _, n := range []string{"Mia", "Tom", "Eva"} {
		tokens[n] = tokenFor(t, w.d, memberEmail(n))
	}
	resp, body = tom.api(http.MethodGet, "/api/v1/assemblies/"+id, tokens["Tom"])
	wantStatus(t, resp, http.StatusOK)
	a := decode[assemblyJSON](t, body)
	if a.Status != "voting" || len(a.Items) != 3 || len(a.Rights) != 2 || a.Electorate != 3 {
		t.Fatalf("assembly for Tom: %s", body)
	}
	change, accounts, election := a.Items[0].ID, a.Items[1].ID, a.Items[2].ID
	evaID, tomID := w.userID(t, "Eva"), w.userID(t, "Tom")

	// The page has a ballot per voting right.
	_, body = tom.get(page)
	wantContains(t, body, `id="ballot-`+change+`-`+tomID+`"`, `id="ballot-`+change+`-`+evaID+`"`, "Vote for Eva Member (by proxy)")
	// Eva gave her proxy, but her own vote would override it.
	_, body = eva.get(page)
	wantContains(t, body, `id="ballot-`+change+`-`+evaID+`"`, "If you vote yourself, your own vote counts")

	ballot := func(item string) string { return page + "/items/" + item + "/ballot" }
	resp, body = mia.submit(page, ballot(change), url.Values{"choice": {"maybe"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Vote yes, no or abstain.")
	resp, _ = mia.submit(page, ballot(change), url.Values{"choice": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = mia.submit(page, ballot(change), url.Values{"choice": {"no"}})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "This vote has already been cast on this item.")
	_, body = mia.get(page)
	wantContains(t, body, `<span class="badge ok">voted</span> Your vote`)

	resp, _ = tom.submit(page, ballot(change), url.Values{"on_behalf_of": {tomID}, "choice": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+change+"/ballot", tokens["Tom"],
		`{"on_behalf_of":"`+evaID+`","choice":"no"}`)
	wantStatus(t, resp, http.StatusCreated)
	wantContains(t, body, `"item_id":"`+change+`"`)
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+change+"/ballot", tokens["Tom"],
		`{"on_behalf_of":"`+evaID+`","choice":"no"}`)
	wantStatus(t, resp, http.StatusConflict)
	decodeAPIError(t, body)
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+change+"/ballot", tokens["Tom"], `{"choice":`)
	wantStatus(t, resp, http.StatusBadRequest)
	decodeAPIError(t, body)
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+change+"/ballot", tokens["Tom"], `{"choise":"yes"}`)
	wantStatus(t, resp, http.StatusBadRequest)
	decodeAPIError(t, body)
	// Tom has voted for Eva on this item: her own vote cannot count twice.
	resp, body = apiJSON(eva, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+change+"/ballot", tokens["Eva"], `{"choice":"yes"}`)
	wantStatus(t, resp, http.StatusConflict)
	decodeAPIError(t, body)

	// The accounts, named too (secret items need trustees: TestSecretItemNeedsTrustees).
	resp, _ = mia.submit(page, ballot(accounts), url.Values{"choice": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = apiJSON(tom, http.MethodPost, "/api/v1/assemblies/"+id+"/items/"+accounts+"/ballot", tokens["Tom"], `{"choice":"no"}`)
	wantStatus(t, resp, http.StatusCreated)
	if r := decode[map[string]string](t, body); len(r) != 1 || r["item_id"] != accounts {
		t.Errorf("API receipt: %s", body)
	}

	// An election: at most the seats; Eva is excluded, also through her proxy.
	_, body = mia.get(page)
	cands := regexp.MustCompile(`name="candidate_ids" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(cands) != 2 {
		t.Fatalf("candidates on the ballot: %v", cands)
	}
	resp, body = mia.submit(page, ballot(election), url.Values{"candidate_ids": {cands[0][1], cands[1][1]}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose at most 1 candidate(s).")
	resp, _ = mia.submit(page, ballot(election), url.Values{"candidate_ids": {cands[0][1]}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = tom.submit(page, ballot(election), url.Values{"on_behalf_of": {evaID}, "candidate_ids": {cands[1][1]}})
	wantStatus(t, resp, http.StatusForbidden)

	// Before the close: no results, no minutes; the board sees the turnout.
	resp, body = mia.api(http.MethodGet, "/api/v1/assemblies/"+id+"/results", tokens["Mia"])
	wantStatus(t, resp, http.StatusConflict)
	decodeAPIError(t, body)
	resp, _ = mia.get(page + "/minutes")
	wantStatus(t, resp, http.StatusConflict)
	resp, body = anna.get(manage + "/turnout")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `<td class="turnout">3 of 3</td>`, `<td class="turnout">2 of 3</td>`, `<td class="turnout">1 of 3</td>`)

	// Voting runs for the whole announced period: not everybody voted.
	resp, body = anna.submit(manage, manage+"/close", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "cannot close early")
	w.shiftAssembly(t, id, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Second))
	resp, _ = anna.submit(manage, manage+"/close", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get(manage)
	wantContains(t, body, "Voting is closed and the results are published")
	resp, _ = anna.submit(manage, manage+"/close", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = mia.submit(page, ballot(election), url.Values{"candidate_ids": {cands[0][1]}})
	wantStatus(t, resp, http.StatusConflict)

	// The results: counts, majority, verdict, ballot lists, the hash.
	resp, body = mia.api(http.MethodGet, "/api/v1/assemblies/"+id+"/results", tokens["Mia"])
	wantStatus(t, resp, http.StatusOK)
	res := decode[struct {
		ResultHash string `json:"result_hash"`
		Items      []struct {
			ItemID  string                       `json:"item_id"`
			Yes     int                          `json:"yes"`
			No      int                          `json:"no"`
			Cast    int                          `json:"cast"`
			Adopted bool                         `json:"adopted"`
			Elected []string                     `json:"elected"`
			Ballots []governance.PublishedBallot `json:"ballots"`
		} `json:"items"`
	}](t, body)
	if len(res.Items) != 3 || res.ResultHash == "" {
		t.Fatalf("results: %s", body)
	}
	if it := res.Items[0]; it.Yes != 2 || it.No != 1 || it.Cast != 3 || !it.Adopted {
		t.Errorf("parameter change: %+v", it)
	}
	if it := res.Items[2]; len(it.Elected) != 1 || it.Elected[0] != "Carla" {
		t.Errorf("election: %+v", it)
	}
	if bs := res.Items[1].Ballots; len(bs) != 2 || bs[0].Voter != "Mia Member" || bs[0].Choice != "yes" || bs[1].Voter != "Tom Member" || bs[1].Code != "" {
		t.Errorf("accounts ballots: %+v", bs)
	}
	_, body = mia.get(page)
	wantContains(t, body, `data-result="adopted"`, `data-result="elected: Carla"`, `<code id="result-hash">`+res.ResultHash+`</code>`,
		"Mia Member", "Eva Member (by proxy Tom Member)", "more than half of the yes and no votes",
		`href="/assemblies/`+id+`/minutes"`, `href="/assemblies/`+id+`/minutes.md"`)

	// The adopted change is in force, adopted by the agenda item.
	_, body = mia.get("/rules")
	row := regexp.MustCompile(`(?s)<tr id="rule-entitlement_vcpus">.*?</tr>`).FindString(body)
	if !strings.Contains(row, `<td class="rule-value">`+after+`</td>`) || !strings.Contains(row, `href="/assemblies/`+id+`#item-`+change+`"`) {
		t.Errorf("registry row after the decision: %s", row)
	}
	if w.vcpus(t) != before+3 {
		t.Errorf("vCPUs per share = %d, want %d", w.vcpus(t), before+3)
	}
	_, body = mia.get("/rules/entitlement_vcpus")
	wantContains(t, body, strconv.Itoa(before)+` → <strong>`+after+`</strong>`)
	_, body = mia.get("/proposals/" + proposal)
	wantContains(t, body, `<span class="badge ok">adopted</span>`)

	// Minutes: Markdown to download, and a page to print.
	resp, body = mia.get(page + "/minutes.md")
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/markdown") ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("minutes download: %s / %s", ct, resp.Header.Get("Content-Disposition"))
	}
	wantContains(t, body, "# Minutes of the general assembly: Annual assembly 2026", res.ResultHash)
	resp, body = mia.get(page + "/minutes")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "<h1>Minutes of the general assembly: Annual assembly 2026</h1>", "<th scope=\"col\">Yes</th>", res.ResultHash, "Adopted.")

	resp, body = mia.api(http.MethodGet, "/api/v1/assemblies", tokens["Mia"])
	wantStatus(t, resp, http.StatusOK)
	if l := decode[struct{ Assemblies []assemblyJSON }](t, body); len(l.Assemblies) != 1 || l.Assemblies[0].Status != "closed" {
		t.Errorf("assemblies: %s", body)
	}
}

func TestAssemblyProxyAPI(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	resp, _ := w.board.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"Extraordinary"},
		"form": {"hybrid"}, "place": {"Town hall"}, "access_details": {"https://meet.example.org/x"}, "voting_start": {moment(time.Hour)}, "voting_end": {moment(72 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	id := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]
	mia := w.members["Mia"]
	token := tokenFor(t, w.d, memberEmail("Mia"))
	path := "/api/v1/assemblies/" + id + "/proxy"

	resp, body := apiJSON(mia, http.MethodPost, path, token, `{"proxy_email":"mia@example.org"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if e := decodeAPIError(t, body); e.Fields["proxy_email"] == "" {
		t.Errorf("422: %+v", e)
	}
	resp, _ = apiJSON(mia, http.MethodPost, path, token, `{"proxy_email":"tom@example.org"}`)
	wantStatus(t, resp, http.StatusNoContent)
	resp, body = mia.api(http.MethodGet, "/api/v1/assemblies/"+id, token)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"proxy_name":"Tom Member"`)
	resp, _ = apiJSON(mia, http.MethodPost, path, token, `{"proxy_email":"tom@example.org"}`)
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiJSON(mia, http.MethodPost, path, token, `{"revoke":true}`)
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(mia, http.MethodPost, path, token, `{"revoke":true}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = apiJSON(mia, http.MethodPost, path, token, `{"revoke":"yes"}`)
	wantStatus(t, resp, http.StatusBadRequest)

	// Through the page: revoking what was never given is a 404 page, not a 500.
	page := "/assemblies/" + id
	resp, _ = mia.submit(page, page+"/proxy/revoke", url.Values{})
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = mia.get("/assemblies/nope")
	wantStatus(t, resp, http.StatusNotFound)
}

func TestAssemblyBoardOnly(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	createUser(t, w.srv, "root@example.org", account.RoleAdmin, account.RoleMember)
	resp, _ := w.board.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"AGM"},
		"form": {"virtual"}, "access_details": {"https://meet.example.org/x"}, "voting_start": {moment(time.Hour)}, "voting_end": {moment(72 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	id := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]

	admin := newClient(t, w.base)
	admin.login("root@example.org", "correct horse battery")
	for _, c := range []*client{w.members["Mia"], admin} {
		for _, p := range []string{"/board/assemblies/new", "/board/assemblies/" + id, "/board/assemblies/" + id + "/turnout"} {
			resp, _ := c.get(p)
			wantStatus(t, resp, http.StatusForbidden)
		}
		for _, p := range []string{"/board/assemblies/new", "/board/assemblies/" + id + "/items", "/board/assemblies/" + id + "/invite",
			"/board/assemblies/" + id + "/open", "/board/assemblies/" + id + "/close"} {
			resp, _ := c.submit("/assemblies", p, url.Values{"title": {"x"}, "kind": {"ordinary"}})
			wantStatus(t, resp, http.StatusForbidden)
		}
	}
	if n := w.d.count(t, "agenda_items", ""); n != 0 {
		t.Errorf("agenda items by non-board users: %d", n)
	}
	// Members see the assembly, without the board's link.
	_, body := w.members["Mia"].get("/assemblies")
	wantContains(t, body, "AGM", "planned")
	if strings.Contains(body, "New assembly") {
		t.Error("a member is offered to create an assembly")
	}
}

// TestSecretItemNeedsTrustees: an agenda with a secret item cannot open
// without the trustees' election key (no secret ballot is ever stored in
// plaintext); the board's pages say what to do, in German and English.
func TestSecretItemNeedsTrustees(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	anna := w.board
	form := url.Values{"title": {"Extraordinary assembly"}, "description": {"Online."}, "form": {"virtual"},
		"voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}, "access_details": {"https://meet.example.org/x"}}
	resp, _ := anna.submit("/board/assemblies/new", "/board/assemblies/new", form)
	wantStatus(t, resp, http.StatusSeeOther)
	m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("after creating: %q", resp.Header.Get("Location"))
	}
	id := m[1]
	manage := "/board/assemblies/" + id
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"Discharge of the board"}, "secret": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	for _, page := range []string{manage, "/assemblies/" + id} {
		for lang, want := range map[string]string{
			"en": "Secret items need an election key before voting can open.",
			"de": "Geheime Abstimmungspunkte brauchen einen Wahlschlüssel, bevor die Abstimmung beginnen kann.",
		} {
			req, _ := http.NewRequest(http.MethodGet, w.base+page, nil)
			req.Header.Set("Accept-Language", lang)
			_, body := anna.do(req)
			wantContains(t, body, `id="election-needed"`, want, `href="/assemblies/`+id+`/election"`)
		}
	}
	resp, _ = anna.submit(manage, manage+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	w.shiftAssembly(t, id, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, body := anna.submit(manage, manage+"/open", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "name the trustees on the election page")
	if n := w.d.count(t, "electorate", "assembly_id = ?", id); n != 0 {
		t.Errorf("electorate of %d fixed by a refused opening", n)
	}
	// A member sees no notice meant for the board.
	_, body = w.members["Mia"].get("/assemblies/" + id)
	if strings.Contains(body, `id="election-needed"`) {
		t.Error("a member sees the board's notice")
	}
}
