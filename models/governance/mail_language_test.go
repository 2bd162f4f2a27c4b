package governance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

// The invitation, the supplementary notice and the proxy's mail reach each
// member in their language and time zone (an account without a time zone
// reads the cooperative's), while the invitation kept for the minutes
// stays as the cooperative sent it: in English, in its time zone.
func TestGovernanceMailsInTheMembersLanguage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 3)
		modelstest.SetLocale(t, db, ms[0].UserID, "de", "Europe/Berlin")
		modelstest.SetLocale(t, db, ms[2].UserID, "en", "America/New_York")
		berlin, _ := time.LoadLocation("Europe/Berlin")
		newYork, _ := time.LoadLocation("America/New_York")
		german := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, berlin))
		englishBerlin := i18n.WithLocale(ctx, i18n.NewLocale(i18n.English, berlin)) // m1 has no zone: the cooperative's
		englishNY := i18n.WithLocale(ctx, i18n.NewLocale(i18n.English, newYork))

		a := e.planned(t, 30, 10)
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			to                   string
			lang                 context.Context
			subject, hello, want string
		}{
			{ms[0].Email, german, "Einladung zur Generalversammlung: GA", "Hallo m 0,", "Der Vorstand lädt Sie zur Generalversammlung \"GA\" ein."},
			{ms[1].Email, englishBerlin, "Invitation to the general assembly: GA", "Hello m 1,", "The board invites you to the general assembly \"GA\"."},
			{ms[2].Email, englishNY, "Invitation to the general assembly: GA", "Hello m 2,", "The board invites you to the general assembly \"GA\"."},
		} {
			subject, body := modelstest.LastMail(t, db, c.to, "assembly.invitation:"+a.ID)
			voting := i18n.T(c.lang, "Voting: %s to %s", i18n.DateTime(c.lang, a.VotingStart), i18n.DateTime(c.lang, a.VotingEnd))
			if subject != c.subject || !strings.HasPrefix(body, c.hello) || !strings.Contains(body, c.want) ||
				!strings.Contains(body, voting) || !strings.Contains(body, "1. Annual accounts") {
				t.Errorf("invitation to %s, want %q:\n%s\n%s", c.to, voting, subject, body)
			}
		}
		if _, body := modelstest.LastMail(t, db, ms[0].Email, "assembly.invitation:"); !strings.Contains(body, "Tagesordnung:") ||
			!strings.Contains(body, "Mit freundlichen Grüßen") || strings.Contains(body, "Voting") {
			t.Errorf("German invitation:\n%s", body)
		}
		d, err := e.g.Assembly(ctx, e.board, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.InvitationText, "The board invites you to the general assembly \"GA\".") ||
			!strings.Contains(d.InvitationText, "(Europe/Berlin)") || strings.Contains(d.InvitationText, "Abstimmung") {
			t.Errorf("the invitation kept for the minutes:\n%s", d.InvitationText)
		}

		// m1 authorises m0: m0 is told in German.
		if err := e.g.GrantProxy(ctx, ms[1], viewer(ms[1]), a.ID, ms[0].Email, ""); err != nil {
			t.Fatal(err)
		}
		subject, body := modelstest.LastMail(t, db, ms[0].Email, "assembly.proxy:")
		if subject != "Sie wurden bevollmächtigt, für ein anderes Mitglied abzustimmen" || !strings.Contains(body, i18n.DateTime(german, a.VotingStart)) {
			t.Errorf("German proxy mail:\n%s\n%s", subject, body)
		}

		// An item members demanded, added with a second notice.
		p, err := e.g.Submit(ctx, ms[1], viewer(ms[1]), governance.ProposalInput{Title: "Open the books", Reasoning: "r", Kind: governance.ProposalMotion})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.g.Support(ctx, ms[2], viewer(ms[2]), p.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(e.Clock.Now().AddDate(0, 0, 9))
		if _, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID}); err != nil {
			t.Fatal(err)
		}
		subject, body = modelstest.LastMail(t, db, ms[0].Email, "assembly.supplement:")
		if subject != "Ergänzung der Tagesordnung der Generalversammlung: GA" || !strings.Contains(body, "Auf Verlangen von Mitgliedern") ||
			!strings.Contains(body, "2. Open the books") {
			t.Errorf("German supplement:\n%s\n%s", subject, body)
		}
		subject, body = modelstest.LastMail(t, db, ms[1].Email, "assembly.supplement:")
		if subject != "Supplement to the agenda of the general assembly: GA" || !strings.Contains(body, "on a demand of members") {
			t.Errorf("English supplement:\n%s\n%s", subject, body)
		}
		d, _ = e.g.Assembly(ctx, e.board, a.ID)
		if !strings.Contains(d.InvitationText, "Supplementary notice of") || strings.Contains(d.InvitationText, "Ergänzende") {
			t.Errorf("the invitation kept for the minutes after the supplement:\n%s", d.InvitationText)
		}
	})
}
