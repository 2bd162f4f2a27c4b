package moderation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/modelstest"
	"allmende/models/moderation"
	"allmende/models/rulebook"
)

// The sanction and the appeal's decision are mailed in the member's
// language and time zone: a German-speaking member reads German with the
// end in Berlin time, an English-speaking one English in UTC.
func TestModerationMailsInTheMembersLanguage(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		judge, _ := e.member(t, "judge@example.org")
		e.comm[judge.UserID] = true
		greta, _ := e.member(t, "greta@example.org")
		modelstest.SetLocale(t, db, greta.UserID, "de", "Europe/Berlin")
		ada, _ := e.member(t, "ada@example.org")
		berlin, _ := time.LoadLocation("Europe/Berlin")
		german := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, berlin))
		english := i18n.WithLocale(ctx, i18n.NewLocale(i18n.English, time.UTC))

		for _, c := range []struct {
			who                 models.Actor
			lang                context.Context
			subject, hello, not string
			zone                string
			decided             string
		}{
			{greta, german, "Eine Sanktion der Genossenschaft: gesperrte virtuelle Maschine", "Hallo greta,", "Hello", "CEST",
				"Über Ihre Beschwerde ist entschieden: aufgehoben"},
			{ada, english, "A sanction of the cooperative: suspended virtual machine", "Hello ada,", "Hallo", "UTC",
				"Your appeal has been decided: overturned"},
		} {
			vm, ip := e.vm(t, c.who, "web-"+c.who.UserID[len(c.who.UserID)-4:])
			r, err := e.abuse(ip, e.clock.Now().Add(-time.Minute), "phishing page at /login")
			if err != nil {
				t.Fatal(err)
			}
			s, err := e.mod.Sanction(ctx, e.mod1, e.caseOf(t, r.Ref).ID, moderation.SanctionInput{Kind: rulebook.SanctionSuspendVM,
				Reason: "phishing", Days: 3, VMID: vm.ID})
			if err != nil {
				t.Fatal(err)
			}
			subject, body := modelstest.LastMail(t, db, c.who.Email, "moderation.sanction:"+s.ID)
			until := i18n.DateTime(c.lang, *s.EndsAt)
			if subject != c.subject || !strings.HasPrefix(body, c.hello) || strings.Contains(body, c.not) ||
				!strings.Contains(body, until) || !strings.Contains(until, c.zone) || !strings.Contains(body, membershipSignature(c.lang)) {
				t.Errorf("sanction mail to %s (until %s):\n%s\n%s", c.who.Email, until, subject, body)
			}
			a, err := e.mod.FileAppeal(ctx, c.who, s.ID, "a honeypot of my security class")
			if err != nil {
				t.Fatal(err)
			}
			if err := e.mod.Decide(ctx, judge, a.ID, moderation.DecisionInput{Outcome: moderation.AppealOverturned, Reason: "a honeypot"}); err != nil {
				t.Fatal(err)
			}
			subject, body = modelstest.LastMail(t, db, c.who.Email, "moderation.appeal:"+a.ID)
			if subject != c.decided || !strings.HasPrefix(body, c.hello) || strings.Contains(body, c.not) || !strings.Contains(body, "a honeypot") {
				t.Errorf("decision mail to %s:\n%s\n%s", c.who.Email, subject, body)
			}
		}
	})
}

// membershipSignature is the mails' closing in the language of ctx.
func membershipSignature(ctx context.Context) string {
	return strings.TrimSpace(i18n.T(ctx, "\n\nKind regards,\nthe board of the cooperative\n"))
}
