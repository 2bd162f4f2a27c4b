package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/rulebook"
)

// TestTransferOfCapitalPages: a member transfers her whole capital by an
// agreement in text form (§76 GenG); the receiver agrees on his page, the
// board carries it out, and her membership ends without a settlement; the
// capital ledger's note on it reads in German to a German reader.
func TestTransferOfCapitalPages(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	d := openDomain(t, cfg)
	ctx := context.Background()
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	annaU, _ := d.accounts.ByEmail(ctx, "anna@board.example")
	board := models.Actor{UserID: annaU.ID, Email: annaU.Email}
	if err := d.rules.Set(ctx, board, rulebook.RuleAdmissionApprovals, "1", time.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, who := range []struct{ email, name string }{{"ada@example.org", "Ada Lovelace"}, {"bob@example.org", "Bob Builder"}} {
		id := d.apply(t, who.email, who.name, 2)
		if _, err := d.members.Approve(ctx, board, id); err != nil {
			t.Fatal(err)
		}
		if err := d.members.RecordPayment(ctx, board, id, 5000, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		ids[who.email] = id
	}
	ada, bob, anna := newClient(t, base), newClient(t, base), newClient(t, base)
	ada.login("ada@example.org", "correct horse battery")
	bob.login("bob@example.org", "correct horse battery")
	anna.login("anna@board.example", "correct horse battery")

	// §31 GenG: members inspect the member list and copy their entries.
	resp, body := ada.get("/members")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="member-list"`, "Ada Lovelace", "Bob Builder", "Hauptstr. 1, 10115 Berlin, Germany")
	resp, body = ada.get("/membership/entries.txt")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "Member number: 1", "Name: Ada Lovelace")
	resp, _ = anna.get("/members") // the board without a membership may too
	wantStatus(t, resp, http.StatusOK)
	stranger := newClient(t, base)
	createUser(t, srv, "stranger@example.org")
	stranger.login("stranger@example.org", "correct horse battery")
	resp, _ = stranger.get("/members")
	wantStatus(t, resp, http.StatusForbidden)

	resp, body = ada.submit("/membership/transfer", "/membership/transfer", url.Values{"to": {"99"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "No member in good standing has this member number.")
	resp, body = ada.submit("/membership/transfer", "/membership/transfer", url.Values{"to": {"2"}})
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="transfer-agreement"`, "transfers to Bob Builder (member number 2) my whole paid-in capital of €50.00")
	resp, body = ada.submit("/membership/transfer", "/membership/transfer", url.Values{"to": {"2"}, "step": {"confirm"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Confirm the agreement")
	resp, _ = ada.submit("/membership/transfer", "/membership/transfer", url.Values{"to": {"2"}, "step": {"confirm"}, "confirm": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)

	_, body = bob.get("/membership")
	agree := regexp.MustCompile(`action="(/membership/transfer/[^"]+/agree)"`).FindStringSubmatch(body)
	if agree == nil {
		t.Fatalf("the receiver is not asked to agree:\n%s", body)
	}
	resp, _ = ada.submit("/membership", agree[1], url.Values{"agree": {"yes"}})
	wantStatus(t, resp, http.StatusNotFound) // only the receiver agrees
	resp, _ = bob.submit("/membership", agree[1], url.Values{"agree": {"yes"}})
	wantStatus(t, resp, http.StatusSeeOther)

	_, body = anna.get("/board/shares")
	exec := regexp.MustCompile(`action="(/board/transfers/[^"]+/execute)"`).FindStringSubmatch(body)
	if exec == nil {
		t.Fatalf("no agreed transfer on the board's page:\n%s", body)
	}
	resp, _ = anna.submit("/board/shares", exec[1], url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = anna.get("/board/shares")
	wantContains(t, body, "The transfer has been carried out.")
	_, body = ada.get("/membership")
	wantContains(t, body, "former member", "executed")
	if n := d.count(t, "refunds", "membership_id = ?", ids["ada@example.org"]); n != 0 {
		t.Errorf("a full transfer recorded %d refunds; it leaves without settlement", n)
	}
	// The capital ledger's note the portal wrote reads in the reader's
	// language, on her page and on the board's.
	wantContains(t, body, `<td translate="yes">§76 GenG transfer `)
	wantContains(t, get(t, ada, base, "/membership", "de"), `<td translate="yes">Übertragung nach § 76 GenG `)
	wantContains(t, get(t, anna, base, "/board/members/"+ids["ada@example.org"], "de"), `<td translate="yes">Übertragung nach § 76 GenG `)
}
