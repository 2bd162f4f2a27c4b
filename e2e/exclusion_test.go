package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/modelstest"
	"allmende/models/rulebook"
	"allmende/views"
)

// TestExclusionEndsAtBusinessYearEndInBrowser walks an exclusion (§68 GenG)
// through the pages: the board opens proceedings with a reason from the
// bylaws, a decision before the hearing is refused, the member answers on
// their membership page, the board decides and records the registered
// letter; the member loses attendance at once but stays a member until the
// business year ends, and the hourly job ends the membership the day after.
func TestExclusionEndsAtBusinessYearEndInBrowser(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is not installed (%v); run: go tool task setup", chromiumPath, err)
	}
	clock := models.NewManualClock(time.Now().UTC())
	p, cfg := startClockedPortal(t, clock)
	co := openCoop(t, cfg, clock)
	b := startBrowser(t)
	ctx := context.Background()
	const (
		pw                          = "board-of-the-coop-1"
		annaEmail, benEmail, evaEml = "anna@board.example", "ben@board.example", "eva@example.org"
	)
	p.register(t, "Anna Board", annaEmail, pw, account.RoleBoard)
	p.register(t, "Ben Board", benEmail, pw, account.RoleBoard)
	p.register(t, "Eva Member", evaEml, pw)
	if err := co.rules.Set(ctx, models.SystemActor("test"), rulebook.RuleAdmissionApprovals, "1", clock.Now().Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	actorOf := func(email string) models.Actor {
		var id string
		if err := co.db.Gorm.Raw("SELECT id FROM users WHERE email = ?", email).Scan(&id).Error; err != nil || id == "" {
			t.Fatalf("user %s: %v", email, err)
		}
		return models.Actor{UserID: id, Email: email}
	}
	eva := actorOf(evaEml)
	m, err := co.members.Apply(ctx, eva, eva.UserID, modelstest.Application("Eva Member", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.members.Approve(ctx, actorOf(annaEmail), m.ID); err != nil {
		t.Fatal(err)
	}
	rules := co.current(t)
	today := views.Day(clock.Now())
	yearEnd := membership.BusinessYearEnd(clock.Now(), rules)
	memberPage := "/board/members/" + m.ID

	anna := b.newTab(t, p.url)
	dialogs := anna.acceptDialogs()
	anna.logIn(annaEmail, pw)
	anna.open(memberPage)
	// A reason the bylaws do not list cannot be chosen; without one the
	// form comes back marked.
	anna.fill("#x-facts", "No payment after two reminders.")
	anna.submit(`#exclusion form button[type=submit]`, http.StatusUnprocessableEntity)
	anna.wantText("#exclusion .field-error", "Choose one of the reasons for an exclusion that the bylaws list.")
	run(t, anna.ctx, chromedp.SetValue(chromedp.CSS("#x-reason"), rules.Reasons()[0]))
	anna.submit(`#exclusion form button[type=submit]`, http.StatusOK)
	if !strings.HasPrefix(run(t, anna.ctx, chromedp.Location()), p.url+"/board/exclusions/") {
		t.Fatalf("opening the proceedings went to %s", run(t, anna.ctx, chromedp.Location()))
	}
	xPath := strings.TrimPrefix(run(t, anna.ctx, chromedp.Location()), p.url)
	anna.wantText("#x-stage", "hearing")
	if got := dialogs(); len(got) == 0 || !strings.HasPrefix(got[0], "Open exclusion proceedings?") {
		t.Errorf("confirmations %q", got)
	}
	// The decision before the hearing is refused.
	run(t, anna.ctx, chromedp.SetValue(chromedp.CSS("#f-decided_on"), today))
	anna.submit(`form[action$="/decision"] button[type=submit]`, http.StatusConflict)
	anna.wantText("main .flash.error", "The member has not been heard: the hearing runs until "+views.Day(clock.Now().AddDate(0, 0, rules.ExclusionHearingDays))+" unless their statement is recorded first.")

	// Eva is heard on her membership page.
	evaTab := b.newTab(t, p.url)
	evaTab.logIn(evaEml, pw)
	evaTab.open("/membership")
	evaTab.wantText("#exclusion strong", rules.Reasons()[0])
	evaTab.fill("#x-statement", "I lost my job; I will pay in spring.")
	evaTab.submit(`form[action$="/statement"] button[type=submit]`, http.StatusOK)
	evaTab.wantText("main .flash.success", "Your statement has been recorded.")

	// Ben decides for the board; Anna records the letter.
	ben := b.newTab(t, p.url)
	ben.acceptDialogs()
	ben.logIn(benEmail, pw)
	ben.open(xPath)
	run(t, ben.ctx, chromedp.SetValue(chromedp.CSS("#f-decided_on"), today))
	ben.fill("#f-reference", "Board meeting 12")
	ben.submit(`form[action$="/decision"] button[type=submit]`, http.StatusOK)
	ben.wantText("main .flash.success", "Decision recorded.")
	ben.wantText("#x-stage", "decided: letter to send")
	anna.open(xPath)
	run(t, anna.ctx, chromedp.SetValue(chromedp.CSS("#f-sent_on"), today))
	anna.submit(`form[action$="/letter"] button[type=submit]`, http.StatusOK)
	anna.wantText("#x-stage", "letter sent")
	anna.wantText("#x-effective", i18n.Date(context.Background(), yearEnd)) // the browser reads English

	// From the letter: no attendance, still a member until the year ends.
	evaTab.open("/membership")
	evaTab.wantText("main dl.facts .badge", "member until the business year ends: excluded by decision")
	evaTab.screenshot("exclusion-member.png")

	ended := func() []string {
		evaTab.open("/membership")
		return evaTab.texts("main dl.facts .badge")
	}
	// runJob runs the hourly membership job once and waits for it to finish.
	runJob := func() {
		res, err := co.queue.Insert(ctx, jobargs.ProcessMemberships{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			var state string
			if err := co.db.Gorm.Raw("SELECT state FROM river_job WHERE id = ?", res.Job.ID).Scan(&state).Error; err != nil {
				t.Fatal(err)
			}
			if state == "completed" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the membership job is %s after 20 s", state)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	clock.Set(yearEnd.Add(22 * time.Hour)) // the last day of the business year
	runJob()
	if s := ended(); !slices.Equal(s, []string{"member until the business year ends: excluded by decision"}) {
		t.Fatalf("on the last day of the business year the status is %q", s)
	}
	clock.Set(yearEnd.AddDate(0, 0, 1).Add(9 * time.Hour))
	runJob()
	if s := ended(); !slices.Equal(s, []string{"excluded"}) {
		t.Fatalf("the job did not end the membership: status %q", s)
	}
	if got := evaTab.fact("Left on"); got != i18n.Date(t.Context(), yearEnd)+" (exclusion)" {
		t.Errorf("left on %q, want %q", got, i18n.Date(t.Context(), yearEnd)+" (exclusion)")
	}
	waitForOutboxMail(t, p.dataDir, evaEml, "Your membership has ended by exclusion")

	// The pages of this flow fit a phone: no sideways scrolling at 390 px.
	for _, c := range []struct {
		tb    *tab
		paths []string
	}{{anna, []string{memberPage, xPath, "/board/organs", "/board/shares", "/members"}}, {evaTab, []string{"/membership"}}} {
		run(t, c.tb.ctx, chromedp.EmulateViewport(390, 844))
		for _, path := range c.paths {
			c.tb.open(path)
			if w := run(t, c.tb.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); w > 390 {
				t.Errorf("%s is %d px wide on a 390 px phone", path, w)
			}
		}
	}
	anna.open(xPath)
	anna.screenshot("exclusion-board-phone.png")
}
