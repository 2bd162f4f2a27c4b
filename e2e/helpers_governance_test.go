package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/membership"
)

// admitted is a member the test admitted through the domain.
type admitted struct {
	name, email, password, id string
	paidShares                int
}

// boardActors are the board accounts with the given emails, as actors of
// the domain services.
func boardActors(t *testing.T, p *portal, emails ...string) []models.Actor {
	t.Helper()
	var out []models.Actor
	for _, e := range emails {
		u, err := p.srv.Accounts.ByEmail(context.Background(), e)
		if err != nil {
			t.Fatalf("board account %s: %v", e, err)
		}
		out = append(out, models.Actor{UserID: u.ID, Email: u.Email, IP: "192.0.2.1"})
	}
	return out
}

// admitPaid registers an account, files its application, has as many board
// members approve it as the rules ask and books the payment of all its
// shares — through the domain services behind the board's pages, as
// web/board_test.go and web/member_test.go do.
func (c *coop) admitPaid(t *testing.T, p *portal, clock models.Clock, board []models.Actor, name, email, password string, shares int) admitted {
	t.Helper()
	ctx := context.Background()
	rules := c.current(t)
	u, err := p.srv.Accounts.Register(ctx, models.SystemActor("e2e"),
		account.RegisterInput{Email: email, Name: name, Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	m, err := c.members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
		PersonKind: membership.PersonNatural, LegalName: name, Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
		Country: "DE", Shares: shares, AcceptBylaws: true, BylawsVersion: rules.BylawsVersion, AcknowledgeNoticePeriod: true,
	})
	if err != nil {
		t.Fatalf("apply %s: %v", email, err)
	}
	if len(board) < rules.AdmissionApprovals {
		t.Fatalf("%d board members cannot give the %d approvals needed", len(board), rules.AdmissionApprovals)
	}
	for _, b := range board[:rules.AdmissionApprovals] {
		if _, err := c.members.Approve(ctx, b, m.ID); err != nil {
			t.Fatalf("approve %s: %v", email, err)
		}
	}
	if err := c.members.RecordPayment(ctx, board[0], m.ID, int64(shares)*rules.SharePriceCents, clock.Now(), "bank transfer"); err != nil {
		t.Fatalf("payment of %s: %v", email, err)
	}
	return admitted{name: name, email: email, password: password, id: u.ID, paidShares: shares}
}

// ruleValue is the value in force of a rule the registry shows.
func ruleValue(t *testing.T, g *governance.Governance, key string) string {
	t.Helper()
	rules, err := g.Registry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Key == key {
			return r.Value
		}
	}
	t.Fatalf("no rule %s in the registry", key)
	return ""
}

// in is tb for use in a subtest: its failures fail the subtest. The tab
// stays the parent's, so one member's browser lives through the scenario.
func (tb *tab) in(t *testing.T) *tab {
	c := *tb
	c.t = t
	return &c
}

// setValue sets a select's or a date input's value, as a user picks it.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		tb.t.Fatalf("set %s to %q: %v", sel, value, err)
	}
	if got := run(tb.t, tb.ctx, chromedp.Value(chromedp.CSS(sel))); got != value {
		tb.t.Fatalf("%s holds %q after setting %q", sel, got, value)
	}
}

// count is the number of elements matching sel.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return run(tb.t, tb.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// path is the path of the tab's location.
func (tb *tab) path() string {
	tb.t.Helper()
	return strings.TrimPrefix(run(tb.t, tb.ctx, chromedp.Location()), tb.base)
}

// outboxCount counts the mails in the outbox whose text contains all parts.
func outboxCount(dataDir string, parts ...string) int {
	files, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "*.eml"))
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all := true
		for _, p := range parts {
			all = all && strings.Contains(string(b), p)
		}
		if all {
			n++
		}
	}
	return n
}
