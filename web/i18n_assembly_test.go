package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/election"
	"allmende/models/governance"
)

// assemblyData are the names the assembly test makes: they read alike in
// both languages.
var assemblyData = []string{"Test assembly", "Test item", "Test election", "Test secret item", "Test hall", "Test link",
	"Carla", "Dan", "Mia Member", "Tom Member", "Eva Member", "Test anna@board.example", "Test ben@board.example",
	"Test accounts", "accounts.pdf", "Europe/Berlin", "Test purpose", "Test reasons", "Test question?", "Test answer",
	"Test amendment", "Test objection", "Test minutes reference", "Berlin", "Carla Carla",
	// Agenda items as numbered on the page, and the runoff's item: the
	// domain writes its title and description once, in the cooperative's
	// language, as it does the minutes.
	"1. Test item", "2. Test election", "3. Runoff: Test election", "Runoff: Test election", "1. Test secret item",
	"#1 Mia Member", "#2 Tom Member", "#3 Eva Member",
	"Organ", // the same word in German
	`Runoff (§43(2) GenG) of item 2, "Test election": nobody won the seat(s) below with more than half of the valid votes. The candidate(s) with the most votes are elected.`}

// TestAssemblyPagesInBothLanguages builds an assembly through its life —
// planned with documents and a proxy, invited, voting with the conduct, an
// election that needs a runoff, closed with results and signed minutes —
// and fetches every page a member and the board see on the way in German
// and English: no visible text may read the same in both. Forms refused
// with an error are compared too, and the ballot script's texts must come
// from the page in the reader's language.
func TestAssemblyPagesInBothLanguages(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom", "Eva")
	mia, tom, eva, anna := w.members["Mia"], w.members["Tom"], w.members["Eva"], w.board
	check := func(c *client, paths ...string) {
		t.Helper()
		for _, p := range paths {
			checkBothLanguages(t, c, w.base, p, assemblyData...)
		}
	}

	// Planned: the agenda, a document, a proxy, a demand.
	resp, body := anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"Test assembly"}, "form": {"hybrid"},
		"place": {"Test hall"}, "access_details": {"Test link"}, "voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("after creating: %q\n%s", resp.Header.Get("Location"), body)
	}
	id := m[1]
	manage, page := "/board/assemblies/"+id, "/assemblies/"+id
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"Test item"}, "quorum": {"1"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/items", url.Values{"kind": {"election"}, "title": {"Test election"}, "seats": {"1"}, "candidates": {"Carla\nDan\n"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.postDocument(id, map[string]string{"kind": "annual_accounts", "title": "Test accounts"}, "accounts.pdf", []byte("%PDF-1.4\n%%EOF\n"), true)
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = eva.submit(page, page+"/proxy", url.Values{"proxy_email": {memberEmail("Tom")}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = mia.submit("/demands", "/demands", url.Values{"purpose": {"Test purpose"}, "reasons": {"Test reasons"}})
	wantStatus(t, resp, http.StatusSeeOther)
	demand := resp.Header.Get("Location")
	check(mia, "/assemblies", page, "/demands", demand)
	check(eva, page)
	check(tom, page)
	check(anna, page, manage+"/documents", demand)
	checkAssemblyForm(t, eva, w.base, page, page+"/proxy", url.Values{"proxy_email": {"nobody@example.org"}}, http.StatusUnprocessableEntity)
	checkAssemblyForm(t, anna, w.base, manage+"/documents", manage+"/items", url.Values{"kind": {"election"}, "title": {"Test election"},
		"seats": {"1"}, "candidates": {"Carla\nCarla\n"}}, http.StatusUnprocessableEntity, "Carla ist zweimal genannt.")
	checkAssemblyForm(t, mia, w.base, "/demands", "/demands", url.Values{"purpose": {""}, "reasons": {"Test reasons"}}, http.StatusUnprocessableEntity)

	// Invited, with a chair.
	resp, _ = anna.submit(manage, manage+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/chair", url.Values{"chair_email": {"anna@board.example"}, "chair_location": {"Berlin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	check(mia, page)
	check(anna, page, manage+"/documents")

	// Voting: attendance, a question and its answer, an amendment, ballots,
	// an election without a majority and its runoff, an objection.
	w.shiftAssembly(t, id, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, _ = anna.submit(manage, manage+"/open", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mia.get(page)
	items := regexp.MustCompile(`id="item-([0-9a-f-]+)"`).FindAllStringSubmatch(body, -1)
	if len(items) != 2 {
		t.Fatalf("agenda items on the page: %v", items)
	}
	item, election := items[0][1], items[1][1]
	cands := regexp.MustCompile(`name="candidate_ids" value="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(cands) != 2 {
		t.Fatalf("candidates on the ballot: %v", cands)
	}
	evaID := w.userID(t, "Eva")
	for _, s := range []struct {
		c      *client
		action string
		form   url.Values
	}{
		{mia, page + "/attend", url.Values{"mode": {"online"}}},
		{mia, page + "/contributions", url.Values{"form": {"questions"}, "kind": {"question"}, "text": {"Test question?"}}},
		{tom, page + "/contributions", url.Values{"form": {item}, "item_id": {item}, "kind": {"amendment"}, "text": {"Test amendment"}}},
		{mia, page + "/items/" + item + "/ballot", url.Values{"choice": {"yes"}}},
		{tom, page + "/items/" + item + "/ballot", url.Values{"choice": {"yes"}}},
		{tom, page + "/items/" + item + "/ballot", url.Values{"on_behalf_of": {evaID}, "choice": {"no"}}},
		{mia, page + "/items/" + election + "/ballot", url.Values{"candidate_ids": {cands[0][1]}}},
		{tom, page + "/items/" + election + "/ballot", url.Values{"candidate_ids": {cands[1][1]}}},
		{tom, page + "/items/" + election + "/ballot", url.Values{"on_behalf_of": {evaID}, "choice": {"abstain"}}},
		{mia, page + "/items/" + item + "/objection", url.Values{"objection": {"Test objection"}}},
	} {
		resp, body := s.c.submit(page, s.action, s.form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: status %d\n%s", s.action, resp.StatusCode, body)
		}
	}
	_, body = anna.get(page)
	question := regexp.MustCompile(`name="parent_id" value="([^"]+)"`).FindStringSubmatch(body)
	if question == nil {
		t.Fatal("the board is not offered to answer the question")
	}
	resp, _ = anna.submit(page, page+"/contributions", url.Values{"form": {"answer-" + question[1]}, "kind": {"answer"}, "parent_id": {question[1]}, "text": {"Test answer"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit(manage, manage+"/items/"+election+"/close", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	check(mia, page)
	check(tom, page)
	check(anna, page, manage)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = anna.submit(manage, manage+"/items/"+election+"/runoff", url.Values{"runoff_end": {time.Now().In(berlin).Add(2 * time.Hour).Format("2006-01-02T15:04")}})
	wantStatus(t, resp, http.StatusSeeOther)
	check(mia, page)
	check(anna, page, manage)
	checkAssemblyForm(t, mia, w.base, page, page+"/contributions", url.Values{"form": {"questions"}, "kind": {"question"}, "text": {""}}, http.StatusUnprocessableEntity)
	checkAssemblyForm(t, mia, w.base, page, page+"/items/"+item+"/ballot", url.Values{"choice": {"no"}}, http.StatusConflict)
	checkAssemblyForm(t, anna, w.base, manage, manage+"/items/"+election+"/runoff", url.Values{"runoff_end": {"soon"}}, http.StatusUnprocessableEntity)

	// The runoff is voted; the assembly closes; the chair declares the
	// results and signs the minutes.
	_, body = mia.get(page)
	runoff := regexp.MustCompile(`action="/assemblies/` + id + `/items/([0-9a-f-]+)/ballot"`).FindStringSubmatch(body)
	if runoff == nil {
		t.Fatal("no runoff ballot on the member's page")
	}
	_, body = tom.get(page)
	carla := regexp.MustCompile(`name="candidate_ids" value="([^"]+)"`).FindStringSubmatch(body)
	for _, s := range []struct {
		c    *client
		form url.Values
	}{
		{mia, url.Values{"candidate_ids": {carla[1]}}},
		{tom, url.Values{"candidate_ids": {carla[1]}}},
		{tom, url.Values{"on_behalf_of": {evaID}, "choice": {"abstain"}}},
	} {
		resp, body := s.c.submit(page, page+"/items/"+runoff[1]+"/ballot", s.form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("runoff ballot: status %d\n%s", resp.StatusCode, body)
		}
	}
	w.shiftAssembly(t, id, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Second))
	for _, action := range []string{manage + "/close", page + "/declare", page + "/minutes/sign"} {
		resp, body := anna.submit(page, action, url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: status %d\n%s", action, resp.StatusCode, body)
		}
	}
	check(mia, page, page+"/minutes")
	check(anna, page, manage)
	checkAssemblyForm(t, mia, w.base, page, page+"/minutes/sign", url.Values{}, http.StatusForbidden)

	// An assembly with a secret item: the election page with its trustees,
	// for a trustee of the board and for a member.
	resp, _ = anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"Test assembly"}, "form": {"virtual"},
		"access_details": {"Test link"}, "voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	secret := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]
	resp, _ = anna.submit("/board/assemblies/"+secret, "/board/assemblies/"+secret+"/items", url.Values{"kind": {"ordinary"}, "title": {"Test secret item"}, "secret": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	electionPage := "/assemblies/" + secret + "/election"
	check(anna, electionPage, "/assemblies/"+secret)
	checkAssemblyForm(t, anna, w.base, electionPage, "/board/assemblies/"+secret+"/election", url.Values{"trustees": {""}, "threshold": {"1"}}, http.StatusUnprocessableEntity)
	resp, _ = anna.submit(electionPage, "/board/assemblies/"+secret+"/election", url.Values{"trustees": {"anna@board.example\nben@board.example"}, "threshold": {"2"}})
	wantStatus(t, resp, http.StatusSeeOther)
	check(anna, electionPage)
	check(mia, electionPage, "/assemblies/"+secret)
	checkBallotTexts(t, anna, w.base, electionPage)
	// The trustees make the key; voting opens: the encrypted ballot form.
	ben := newClient(t, w.base)
	ben.login("ben@board.example", "correct horse battery")
	trusteeCeremony(t, secret, 2, anna, ben)
	resp, _ = anna.submit("/board/assemblies/"+secret, "/board/assemblies/"+secret+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	w.shiftAssembly(t, secret, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, body = anna.submit("/board/assemblies/"+secret, "/board/assemblies/"+secret+"/open", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("opening the secret vote: %d\n%s", resp.StatusCode, body)
	}
	_, body = mia.get("/assemblies/" + secret)
	wantContains(t, body, `class="ballot encrypted-ballot"`, `id="ballot-texts"`)
	check(mia, "/assemblies/"+secret)
	check(anna, electionPage)

	// The organs: a seat held, one ended, and a refused appointment.
	resp, _ = anna.submit("/board/organs", "/board/organs/appoint", url.Values{"organ": {"supervisory_board"}, "user": {w.userID(t, "Tom")}, "by": {"election"},
		"decided_on": {today()}, "term_start": {today()}, "term_end": {"2031-06-30"}, "reference": {"Test minutes reference"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = anna.submit("/board/organs", "/board/organs/appoint", url.Values{"organ": {"appeals_committee"}, "user": {w.userID(t, "Mia")}, "by": {"election"},
		"decided_on": {today()}, "term_start": {today()}, "term_end": {"2031-06-30"}, "reference": {"Test minutes reference"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get("/board/organs")
	end := regexp.MustCompile(`action="(/board/organs/[^"]+/end)"`).FindAllStringSubmatch(body, -1)
	if len(end) != 2 {
		t.Fatalf("End buttons: %v", end)
	}
	resp, _ = anna.submit("/board/organs", end[1][1], url.Values{"last_day": {today()}, "reason": {"resigned"}})
	wantStatus(t, resp, http.StatusSeeOther)
	check(anna, "/board/organs")
	// The board's shares page (in the same file as the organs) is German;
	// its transfers section is another page's part, so it is not compared
	// whole here.
	req, _ := http.NewRequest(http.MethodGet, w.base+"/board/shares", nil)
	req.Header.Set("Accept-Language", "de")
	resp, body = anna.do(req)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "<h1>Anteile und Kündigungen</h1>", "Keine Erklärungen warten auf eine Entscheidung.", "Anträge auf Rücknahme einer Kündigung")
	checkAssemblyForm(t, anna, w.base, "/board/organs", "/board/organs/appoint", url.Values{"organ": {"board"}, "user": {w.userID(t, "Eva")},
		"by": {"election"}, "decided_on": {today()}, "term_start": {today()}, "term_end": {"not a day"}}, http.StatusUnprocessableEntity)
}

var (
	scriptTextRE = regexp.MustCompile(`\bt\('([a-zA-Z]+)'`)
	upperRE      = regexp.MustCompile(`[A-Z]`)
	ballotTextRE = regexp.MustCompile(`(?s)<div id="ballot-texts".*?</div>`)
)

// checkBallotTexts: every text static/ballot_ui.js shows is on the page
// (a data-* attribute of #ballot-texts), different in German and English;
// the script has no sentences of its own.
func checkBallotTexts(t *testing.T, c *client, base, path string) {
	t.Helper()
	js, err := os.ReadFile("../static/ballot_ui.js")
	if err != nil {
		t.Fatal(err)
	}
	keys := scriptTextRE.FindAllStringSubmatch(string(js), -1)
	if len(keys) < 20 {
		t.Fatalf("found only %d texts in ballot_ui.js: the scan is broken", len(keys))
	}
	if s := regexp.MustCompile(`'[A-Z][a-z]+ [a-z]+[^']*'`).FindString(string(js)); s != "" {
		t.Errorf("ballot_ui.js has a sentence of its own: %s", s)
	}
	attrs := map[string]map[string]string{}
	for _, lang := range []string{"de", "en"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Language", lang)
		_, body := c.do(req)
		div := ballotTextRE.FindString(body)
		if div == "" {
			t.Fatalf("%s in %s: no #ballot-texts", path, lang)
		}
		attrs[lang] = map[string]string{}
		for _, m := range regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`).FindAllStringSubmatch(div, -1) {
			attrs[lang][m[1]] = m[2]
		}
	}
	for _, k := range keys {
		attr := upperRE.ReplaceAllStringFunc(k[1], func(s string) string { return "-" + strings.ToLower(s) })
		de, en := attrs["de"][attr], attrs["en"][attr]
		switch {
		case en == "":
			t.Errorf("the script's text %q (data-%s) is not on the page", k[1], attr)
		case de == en:
			t.Errorf("the script's text data-%s reads the same in German and English: %q", attr, de)
		}
	}
}

// trusteeCeremony plays the trustees' browsers through the key ceremony of
// an assembly with k of len(trustees) decrypting, over the calls
// static/ballot_ui.js makes.
func trusteeCeremony(t *testing.T, assembly string, k int, trustees ...*client) {
	t.Helper()
	path := "/assemblies/" + assembly + "/election/"
	call := func(c *client, method, what string, in any, out any) {
		t.Helper()
		var body io.Reader
		if in != nil {
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, c.base+path+what, body)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", c.csrf("/assemblies/"+assembly+"/election"))
		}
		resp, answer := c.do(req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, what, resp.StatusCode, answer)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(answer), out); err != nil {
				t.Fatal(err)
			}
		}
	}
	type state struct {
		Me       int `json:"me"`
		Trustees []struct {
			Index        int      `json:"index"`
			TransportKey string   `json:"transport_key"`
			Commitments  []string `json:"commitments"`
		} `json:"trustees"`
		SharesToMe []election.EncryptedShare `json:"shares_to_me"`
	}
	n := len(trustees)
	ectx := election.ElectionContext(assembly, k, n)
	polys, secrets := make([]election.Polynomial, n), make([]*election.Scalar, n)
	for _, c := range trustees {
		var st state
		call(c, http.MethodGet, "state", nil, &st)
		i := st.Me - 1
		polys[i], secrets[i] = election.NewPolynomial(k), election.RandomScalar()
		call(c, http.MethodPost, "register", governance.TrusteeRegistration{TransportKey: election.PublicOf(secrets[i]).String(),
			Commitments: polys[i].Commitments(), Proof: polys[i].ProveConstant(ectx, i+1)}, nil)
	}
	for _, c := range trustees {
		var st state
		call(c, http.MethodGet, "state", nil, &st)
		var shares []election.EncryptedShare
		for _, to := range st.Trustees {
			z, err := election.ParsePoint(to.TransportKey)
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, election.EncryptShare(ectx, st.Me, to.Index, z, polys[st.Me-1].At(to.Index)))
		}
		call(c, http.MethodPost, "deal", map[string]any{"shares": shares}, nil)
	}
	for _, c := range trustees {
		var st state
		call(c, http.MethodGet, "state", nil, &st)
		var parts []*election.Scalar
		for _, sh := range st.SharesToMe {
			v, err := election.DecryptShare(ectx, secrets[st.Me-1], sh)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, v)
		}
		call(c, http.MethodPost, "confirm", map[string]string{"verification_key": election.PublicOf(election.SumScalars(parts...)).String()}, nil)
	}
}

// checkAssemblyForm posts a refused assembly form in both languages, wants
// status, and the German answer to contain want.
func checkAssemblyForm(t *testing.T, c *client, base, page, action string, form url.Values, status int, want ...string) {
	t.Helper()
	wantContains(t, postBothLanguages(t, c, base, page, action, status, form, assemblyData...)["de"], want...)
}
