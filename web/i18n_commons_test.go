package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"allmende/web"
)

// commonsSame reads alike in both languages on these pages: units and
// abbreviations both languages use, and the test's data.
var commonsSame = []string{"VMs", "CPU", "Host", "· 1 VM", "1 vCPU, 1 GiB, 10 GiB", "GiB", "CSV", "DE98ZZZ09999999999", "small", "node-a", "img", "Ada Lovelace",
	"Bob Builder", "Eva Member", "Outage on the 3rd"}

// TestCommonsPagesInBothLanguages: /commons, a member's statements and one
// statement, the board's month with its costs and coverage, and the cost
// form sent back with an error, read entirely German or English.
func TestCommonsPagesInBothLanguages(t *testing.T) {
	clock := models.NewManualClock(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	srv, base, _ := startServerWith(t, "none", func(c *web.Config) { c.Clock = clock })
	createUser(t, srv, "alice@example.org", account.RoleMember)
	createUser(t, srv, "board@example.org", account.RoleBoard, account.RoleMember)
	db := srv.DB()
	var aliceID string
	if err := db.Gorm.Table("users").Where("email = ?", "alice@example.org").Pluck("id", &aliceID).Error; err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	for _, row := range []any{
		&compute.Host{ID: "h1", Name: "node-a", URI: "test:///default", Role: compute.HostRoleCompute, CreatedAt: oct, UpdatedAt: oct,
			Reachable: true, CPUs: 8, MemoryBytes: 16 << 30, Pools: `[{"name":"default","active":true,"capacity_bytes":107374182400}]`},
		&compute.Plan{ID: "p1", Name: "small", VCPUs: 1, MemoryMiB: 1024, DiskGiB: 10, CreatedAt: oct, UpdatedAt: oct},
		&compute.Image{ID: "i1", Name: "img", HostID: "h1", Pool: "default", Volume: "img", Format: "raw", Status: "ready", CreatedAt: oct, UpdatedAt: oct},
		&compute.VM{ID: "vm1", OwnerID: aliceID, Name: "alices-vm", State: compute.VMRunning, PlanID: "p1", ImageID: "i1", HostID: "h1",
			MAC: "52:54:00:00:00:01", ShutdownTimeoutSeconds: 60, AutoRestart: true, CreatedAt: oct, UpdatedAt: oct},
	} {
		if err := db.Gorm.Create(row).Error; err != nil {
			t.Fatal(err)
		}
	}
	board := newClient(t, base)
	wantStatus(t, board.login("board@example.org", "correct horse battery"), http.StatusSeeOther)
	month := "/board/statements?month=2026-11"
	resp, _ := board.submit(month, "/board/costs", url.Values{"month": {"2026-11"}, "category": {"housing"}, "amount": {"942.00"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = board.submit(month, "/board/statements/close", url.Values{"month": {"2026-11"}})
	wantStatus(t, resp, http.StatusSeeOther)
	var stID string
	db.Gorm.Table("statements").Pluck("id", &stID)
	if stID == "" {
		t.Fatal("closing November made no statement")
	}
	resp, _ = board.submit("/statements/"+stID, "/board/statements/"+stID+"/corrections",
		url.Values{"description": {"Outage on the 3rd"}, "amount_abs": {"1.00"}, "direction": {"credit"}})
	wantStatus(t, resp, http.StatusSeeOther)
	alice := newClient(t, base)
	wantStatus(t, alice.login("alice@example.org", "correct horse battery"), http.StatusSeeOther)

	for _, p := range []string{"/commons", "/statements", "/statements/" + stID} {
		checkBothLanguages(t, alice, base, p, commonsSame...)
	}
	for _, p := range []string{month, "/statements/" + stID} {
		checkBothLanguages(t, board, base, p, commonsSame...)
	}
	// The cost form comes back with its errors, each in the reader's language.
	body := postBothLanguages(t, board, base, month, "/board/costs", http.StatusUnprocessableEntity,
		url.Values{"month": {"2026-13"}, "category": {"yachts"}, "amount": {"-5"}, "note": {"x\x00"}}, commonsSame...)
	wantContains(t, body["de"], "Geben Sie den Monat als JJJJ-MM ein.", "Wählen Sie eines von: servers,", "Kosten sind positiv")
	wantContains(t, body["en"], "Enter the month as YYYY-MM.", "Choose one of: servers,", "Costs are positive")

	// Amounts read as the mails write them: 942,00 € and €942.00.
	wantContains(t, get(t, board, base, month, "de"), "942,00 €")
	wantContains(t, get(t, board, base, month, "en"), "€942.00")
	de, en := get(t, alice, base, "/statements/"+stID, "de"), get(t, alice, base, "/statements/"+stID, "en")
	wantContains(t, de, "VM-Stunden, Tarif small", "720,000 h")
	wantContains(t, en, "VM-hours, plan small", "720.000 h")
}

// TestMemberPagesOfTheBoardInBothLanguages: the board's page of a member
// (payment confirmation and errors, ledgers, refunds), exclusion
// proceedings on both sides, and transfers of capital with their forms
// sent back with errors, read entirely German or English.
func TestMemberPagesOfTheBoardInBothLanguages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	ctx := context.Background()
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	annaU, _ := d.accounts.ByEmail(ctx, "anna@board.example")
	boardActor := models.Actor{UserID: annaU.ID, Email: annaU.Email}
	if err := d.rules.Set(ctx, boardActor, rulebook.RuleAdmissionApprovals, "1", time.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, who := range []struct{ email, name string }{{"ada@example.org", "Ada Lovelace"}, {"bob@example.org", "Bob Builder"}, {"eva@example.org", "Eva Member"}} {
		id := d.apply(t, who.email, who.name, 2)
		if _, err := d.members.Approve(ctx, boardActor, id); err != nil {
			t.Fatal(err)
		}
		if err := d.members.RecordPayment(ctx, boardActor, id, 5000, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		ids[who.email] = id
	}
	anna, ben, ada, bob, eva := newClient(t, base), newClient(t, base), newClient(t, base), newClient(t, base), newClient(t, base)
	for c, email := range map[*client]string{anna: "anna@board.example", ben: "ben@board.example", ada: "ada@example.org",
		bob: "bob@example.org", eva: "eva@example.org"} {
		wantStatus(t, c.login(email, "correct horse battery"), http.StatusSeeOther)
	}
	today := time.Now().UTC().Format("2006-01-02")

	// The board's page of Eva, and the payment form's two answers.
	page := "/board/members/" + ids["eva@example.org"]
	body := postBothLanguages(t, anna, base, page, page+"/payments", http.StatusOK,
		url.Values{"amount": {"500"}, "date": {today}, "note": {"Outage on the 3rd"}}, commonsSame...)
	wantContains(t, body["de"], "Bestätigen: 500,00 € buchen", "Das übersteigt den geschuldeten Betrag um 450,00 €")
	wantContains(t, body["en"], "Confirm: book €500.00", "This exceeds what is owed by €450.00")
	body = postBothLanguages(t, anna, base, page, page+"/payments", http.StatusUnprocessableEntity,
		url.Values{"amount": {"lots"}, "date": {"soon"}}, commonsSame...)
	wantContains(t, body["de"], "Geben Sie einen Betrag in Euro ein")
	// The exclusion form sent back with errors, then proceedings opened.
	body = postBothLanguages(t, anna, base, page, page+"/exclusion", http.StatusUnprocessableEntity,
		url.Values{"reason": {"We do not like her"}, "facts": {""}}, commonsSame...)
	wantContains(t, body["de"], "Wählen Sie einen der Ausschlussgründe")
	reason := regexp.MustCompile(`<option value="(Failure to pay[^"]*)"`).FindStringSubmatch(body["en"])
	if reason == nil {
		t.Fatal("the bylaws' reasons are not offered")
	}
	resp, _ := anna.submit(page, page+"/exclusion", url.Values{"reason": {reason[1]}, "facts": {"Outage on the 3rd"}})
	wantStatus(t, resp, http.StatusSeeOther)
	xpage := resp.Header.Get("Location")
	same := append(slices.Clone(commonsSame), reason[1])
	checkBothLanguages(t, anna, base, page, same...)
	checkBothLanguages(t, anna, base, xpage, same...)
	checkBothLanguages(t, eva, base, "/membership", same...) // invited to be heard
	// Deciding before the hearing is refused in the reader's language.
	body = postBothLanguages(t, ben, base, xpage, xpage+"/decision", http.StatusConflict,
		url.Values{"decided_on": {today}, "exclude": {"yes"}}, same...)
	wantContains(t, body["de"], "Das Mitglied wurde noch nicht angehört")
	wantContains(t, body["en"], "The member has not been heard")
	resp, _ = ben.submit(xpage, xpage+"/statement", url.Values{"statement": {"Outage on the 3rd"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = ben.submit(xpage, xpage+"/decision", url.Values{"decided_on": {today}, "exclude": {"yes"}, "reference": {"Outage on the 3rd"}})
	wantStatus(t, resp, http.StatusSeeOther)
	body = postBothLanguages(t, anna, base, xpage, xpage+"/letter", http.StatusUnprocessableEntity,
		url.Values{"sent_on": {"2000-01-01"}}, same...)
	wantContains(t, body["de"], "Der Brief kann nicht vor der Entscheidung")
	// Eva's seat on the appeals committee ends with the letter; the board's
	// page says why in the reader's language.
	evaU, _ := d.accounts.ByEmail(ctx, "eva@example.org")
	if _, err := d.members.Organs().Appoint(ctx, boardActor, membership.AppointInput{Organ: membership.OrganAppealsCommittee, UserID: evaU.ID,
		TermStart: time.Now().UTC(), TermEnd: time.Now().UTC().AddDate(2, 0, 0), Source: membership.SourceElection,
		AssemblyID: "assembly-1", ItemID: "item-1"}); err != nil {
		t.Fatal(err)
	}
	resp, _ = anna.submit(xpage, xpage+"/letter", url.Values{"sent_on": {today}})
	wantStatus(t, resp, http.StatusSeeOther)
	checkBothLanguages(t, anna, base, xpage, same...)
	checkBothLanguages(t, eva, base, "/membership", same...) // told of the letter
	checkBothLanguages(t, anna, base, page, same...)         // refunds, history, seats
	wantContains(t, get(t, anna, base, page, "de"), "Wahl, beendet: aus der Genossenschaft ausgeschlossen")
	wantContains(t, get(t, anna, base, page, "en"), "election, ended: excluded from the cooperative")

	// Transfers: the form, its errors, the agreement in the proposer's
	// language, the receiver's page, the member list and the bylaws.
	checkBothLanguages(t, ada, base, "/membership/transfer", same...)
	body = postBothLanguages(t, ada, base, "/membership/transfer", "/membership/transfer", http.StatusUnprocessableEntity,
		url.Values{"to": {"99"}}, same...)
	wantContains(t, body["de"], "Kein Mitglied")
	body = postBothLanguages(t, ada, base, "/membership/transfer", "/membership/transfer", http.StatusUnprocessableEntity,
		url.Values{"to": {"2"}, "shares": {"5"}}, same...)
	wantContains(t, body["de"], "Sie halten 2 nicht gekündigte Anteile.")
	body = postBothLanguages(t, ada, base, "/membership/transfer", "/membership/transfer", http.StatusOK,
		url.Values{"to": {"2"}}, same...)
	wantContains(t, body["de"], "Vereinbarung nach § 76 GenG", "mein ganzes eingezahltes Geschäftsguthaben von 50,00 €")
	wantContains(t, body["en"], "Agreement under §76 GenG", "my whole paid-in capital of €50.00")
	resp, _ = ada.submit("/membership/transfer", "/membership/transfer", url.Values{"to": {"2"}, "step": {"confirm"}, "confirm": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	// The agreement stays as the proposer wrote it: German data on both pages.
	_, mine := ada.get("/membership")
	agreement := regexp.MustCompile(`(?s)<p class="pre" translate="no">(Agreement under[^<]*)</p>`).FindStringSubmatch(mine)
	if agreement == nil {
		t.Fatalf("the proposed agreement is not on the member's page:\n%s", mine)
	}
	for _, c := range []*client{ada, bob} {
		checkBothLanguages(t, c, base, "/membership", same...)
	}
	for _, p := range []string{"/members", "/membership/bylaws"} {
		checkBothLanguages(t, ada, base, p, same...)
	}
}

// get fetches path in lang.
func get(t *testing.T, c *client, base, path, lang string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Accept-Language", lang)
	_, body := c.do(req)
	return body
}
