package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/rulebook"
)

// TestHybridAssemblyInBrowser runs a hybrid general assembly by the GenG in
// Chromium against a portal whose clock the test moves: the board convenes
// it (an invitation with too short a notice is refused, §46), appoints a
// chair and invites; at the assembly a member present in person asks the
// board, which answers on the record (§43b), another member moves an
// amendment that the chair puts to the vote, the members vote, one objects
// to the bylaw change for the minutes; voting runs its whole period, the
// chair declares the results, chair and board sign the minutes (§47); the
// bylaw change waits for the register and takes effect on the day the
// board records (§16(6)).
func TestHybridAssemblyInBrowser(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is not installed (%v); run: go tool task setup", chromiumPath, err)
	}
	t0 := time.Now().UTC().Truncate(time.Minute)
	clock := models.NewManualClock(t0)
	p, cfg := startClockedPortal(t, clock)
	co := openCoop(t, cfg, clock)
	gov := governance.NewGovernance(co.db, co.queue, co.rules, clock)
	b := startBrowser(t)
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}

	const (
		boardPassword  = "board-of-the-coop-1"
		memberPassword = "one-member-one-vote"
		annaEmail      = "anna@board.example"
		title          = "Hybrid assembly 2026"
		question       = "What does the second server cost?"
		answer         = "4200 euros; the offer is in the documents."
		amendmentText  = "Keep the notice period at 18 months instead."
		objectionText  = "A shorter notice period weakens the cooperative's capital."
	)
	p.register(t, "Anna Board", annaEmail, boardPassword, account.RoleBoard)
	p.register(t, "Ben Board", "ben@board.example", boardPassword, account.RoleBoard)
	board := boardActors(t, p, annaEmail, "ben@board.example")
	alma := co.admitPaid(t, p, clock, board, "Alma Achter", "alma@example.org", memberPassword, 1)
	bruno := co.admitPaid(t, p, clock, board, "Bruno Berg", "bruno@example.org", memberPassword, 1)
	clara := co.admitPaid(t, p, clock, board, "Clara Conrad", "clara@example.org", memberPassword, 1)
	members := []admitted{alma, bruno, clara}

	// Alma's proposal changes a bylaw rule: the notice period.
	before := co.current(t).NoticePeriodMonths
	prop, err := gov.Submit(ctx, models.Actor{UserID: alma.id, Email: alma.email}, models.Viewer{UserID: alma.id}, governance.ProposalInput{
		Title: "Shorter notice period", Reasoning: "Members should not be bound for two years.", Kind: governance.ProposalParameters,
		Parameters: map[string]string{rulebook.RuleNoticePeriodMonths: "12"}, EffectiveFrom: t0})
	if err != nil {
		t.Fatal(err)
	}
	receiptDays, _ := strconv.Atoi(ruleValue(t, gov, rulebook.RuleInvitationReceiptDays))
	noticeDays, _ := strconv.Atoi(ruleValue(t, gov, rulebook.RuleAssemblyNoticeDays))
	votingStart := t0.AddDate(0, 0, receiptDays+noticeDays+2)
	votingEnd := votingStart.Add(3 * time.Hour)
	local := func(t time.Time) string { return t.In(berlin).Format("2006-01-02T15:04") } // the cooperative's time zone

	tabs := map[string]*tab{}
	confirms := map[string]func() []string{}
	for _, m := range members {
		tabs[m.email] = b.newTabWithin(t, p.url, 2*time.Minute)
		confirms[m.email] = tabs[m.email].acceptDialogs()
		tabs[m.email].logIn(m.email, m.password)
	}
	annaTab := b.newTabWithin(t, p.url, 2*time.Minute)
	annaTab.acceptDialogs()
	annaTab.logIn(annaEmail, boardPassword)

	var assemblyID, page, changeItem, amendItem string
	create := func(anna *tab, start time.Time) string {
		anna.open("/board/assemblies/new")
		anna.fill("#f-title", title)
		anna.setValue("#f-form", governance.FormHybrid)
		anna.fill("#f-place", "Hall 1, Hauptstraße 1, Berlin")
		anna.fill("#f-access_details", "https://meet.example.org/hybrid-2026, sign in with your portal account")
		anna.setValue("#f-voting_start", local(start))
		anna.setValue("#f-voting_end", local(start.Add(3*time.Hour)))
		anna.submit(`main form[action="/board/assemblies/new"] button[type=submit]`, http.StatusOK)
		id, found := strings.CutPrefix(anna.path(), "/board/assemblies/")
		if !found || id == "" || strings.Contains(id, "/") {
			t.Fatalf("after creating at %s, want the board page\n%s", anna.path(), anna.html("main"))
		}
		return id
	}

	ok := t.Run("BoardConvenes", func(t *testing.T) {
		anna := annaTab.in(t)
		// Too short a notice: the portal refuses to invite.
		early := create(anna, t0.AddDate(0, 0, 10))
		anna.setValue("#f-title", "Annual accounts")
		anna.submit(`#add-item form button[type=submit]`, http.StatusOK)
		anna.submit(`form[action$="/invite"] button[type=submit]`, http.StatusConflict)
		// Refused (409), and said once, as the notice warning.
		if got := anna.texts("main .notice-warning"); len(got) != 1 || !strings.Contains(strings.Join(got, " "), "at least "+strconv.Itoa(noticeDays)) {
			t.Errorf("a late invitation is answered with %q", got)
		}
		if n := outboxCount(p.dataDir, "Invitation to the general assembly"); n != 0 {
			t.Errorf("%d invitations sent for %s", n, early)
		}

		assemblyID = create(anna, votingStart)
		page = "/assemblies/" + assemblyID
		anna.wantText("main .flash.success", "The assembly has been created. Now set its agenda.")
		if got := anna.fact("Place"); got != "Hall 1, Hauptstraße 1, Berlin" {
			t.Errorf("place %q", got)
		}
		anna.setValue("#f-proposal_id", prop.ID)
		anna.setValue("#f-kind", governance.ItemBylawChange)
		anna.submit(`#add-item form button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "Item Shorter notice period added to the agenda.")
		ids := run(t, anna.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#agenda li[id^=item-]")].map(e => e.id.slice(5))`))
		if len(ids) != 1 {
			t.Fatalf("agenda items %q", ids)
		}
		changeItem = ids[0]

		anna.fill("#f-chair_email", clara.email)
		anna.fill("#f-chair_location", "Hall 1, on the podium")
		anna.submit(`#chair form button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "The chair is appointed.")
		anna.wantText("#chair strong.chair-name", clara.name)

		anna.submit(`form[action$="/invite"] button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "The invitations are being sent to every member.")
		body := mailBody(t, waitForOutboxMail(t, p.dataDir, alma.email, "Invitation to the general assembly: "+title))
		for _, part := range []string{"Place: Hall 1, Hauptstraße 1, Berlin", "Taking part online: https://meet.example.org/hybrid-2026",
			"Voting: " + votingStart.In(berlin).Format("2 Jan 2006, 15:04 MST"), "1. Shorter notice period (change of the bylaws, 3/4"} {
			if !strings.Contains(body, part) {
				t.Errorf("the invitation lacks %q:\n%s", part, body)
			}
		}
	})

	ok = ok && t.Run("AssemblyConducted", func(t *testing.T) {
		clock.Set(votingStart.Add(10 * time.Minute))
		anna := annaTab.in(t)
		anna.open("/board/assemblies/" + assemblyID)
		anna.submit(`form[action$="/open"] button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "Voting is open.")

		// Alma is there in person and asks the board.
		a := tabs[alma.email].in(t)
		a.open(page)
		if got := a.fact("Chair"); got != clara.name {
			t.Errorf("chair %q, want %s", got, clara.name)
		}
		a.submit(`#attendance form:last-of-type button[type=submit]`, http.StatusOK)
		a.wantText("#attendance p.present", "You are recorded as present.")
		a.fill(`#questions form.ask textarea[name=text]`, question)
		a.submit(`#questions form.ask button[type=submit]`, http.StatusOK)
		a.wantText("main .flash.success", "Your contribution is on the record.")

		// The board answers on the record.
		anna.open(page)
		anna.fill(`#questions form.answer textarea[name=text]`, answer)
		anna.submit(`#questions form.answer button[type=submit]`, http.StatusOK)
		if got := anna.texts("#questions ul.answers p.contribution-text"); !slices.Equal(got, []string{answer}) {
			t.Errorf("answers on the record %q", got)
		}

		// Bruno moves an amendment to the bylaw change.
		br := tabs[bruno.email].in(t)
		br.open(page)
		item := "#item-" + changeItem
		if err := chromedp.Do(br.ctx, chromedp.Click(chromedp.CSS(item+" details.discussion summary"))); err != nil {
			t.Fatal(err)
		}
		br.setValue(item+" form.speak select[name=kind]", governance.ContribAmendment)
		br.fill(item+" form.speak textarea[name=text]", amendmentText)
		br.submit(item+" form.speak button[type=submit]", http.StatusOK)
		br.wantText("main .flash.success", "Your contribution is on the record.")
		motion := run(t, br.ctx, chromedp.Evaluate[string](`document.querySelector("li.contribution.amendment").id.slice(13)`))

		// The chair puts it to the vote: a new item.
		c := tabs[clara.email].in(t)
		c.open(page)
		c.submit("#contribution-"+motion+` form.motion-decide button[value=vote]`, http.StatusOK)
		c.wantText("main .flash.success", "The chair's decision is on the record.")
		c.wantText("#contribution-"+motion+" .motion-status", "admitted and put to the vote")
		ids := run(t, c.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#agenda article[id^=item-]")].map(e => e.id.slice(5))`))
		if len(ids) != 2 || ids[0] != changeItem {
			t.Fatalf("agenda after the amendment %q", ids)
		}
		amendItem = ids[1]
		if got := c.texts("#item-" + amendItem + " header strong"); len(got) != 1 || !strings.HasPrefix(got[0], "2. Amendment to 1. Shorter notice period") {
			t.Errorf("amendment item %q", got)
		}

		// Everybody votes: the change yes, the amendment no.
		for _, m := range members {
			tb := tabs[m.email].in(t)
			tb.open(page)
			for _, v := range []struct{ item, choice string }{{changeItem, governance.ChoiceYes}, {amendItem, governance.ChoiceNo}} {
				sel := "#ballot-" + v.item + "-" + m.id
				tb.setChecked(sel+` input[name=choice][value=`+v.choice+`]`, true)
				tb.submit(sel+` button[type=submit]`, http.StatusOK)
				tb.wantText("main .flash.success", "Your vote has been recorded.")
			}
		}
		// Alma objects to the change for the minutes.
		if err := chromedp.Do(a.ctx, chromedp.Click(chromedp.CSS(item+" details.object summary"))); err != nil {
			t.Fatal(err)
		}
		a.fill(item+" details.object textarea[name=objection]", objectionText)
		a.submit(item+" details.object button[type=submit]", http.StatusOK)
		a.wantText("main .flash.success", "Your objection is recorded for the minutes.")
		if got := a.texts(item + " p.objection"); len(got) != 1 || !strings.Contains(got[0], objectionText) {
			t.Errorf("objections shown %q", got)
		}
	})

	ok = ok && t.Run("MinutesSigned", func(t *testing.T) {
		clock.Set(votingEnd)
		anna := annaTab.in(t)
		anna.open("/board/assemblies/" + assemblyID)
		anna.submit(`form[action$="/close"] button[type=submit]`, http.StatusOK)
		anna.wantText("main dl.facts .badge", "closed")

		c := tabs[clara.email].in(t)
		c.open(page)
		c.submit(`form[action$="/declare"] button[type=submit]`, http.StatusOK)
		if got := c.texts("#item-" + changeItem + " p.declaration"); len(got) != 1 || !strings.Contains(got[0], "adopted with 3 yes, 0 no") {
			t.Errorf("declaration %q", got)
		}
		c.submit(`form[action$="/minutes/sign"] button[type=submit]`, http.StatusOK)
		c.wantText("main .flash.success", "You have signed the minutes.")
		if got := confirms[clara.email](); !slices.Contains(got, "Sign the minutes? Their text cannot change afterwards.") {
			t.Errorf("confirmations %q", got)
		}
		anna.open(page)
		anna.submit(`form[action$="/minutes/sign"] button[type=submit]`, http.StatusOK)
		anna.wantText("#minutes-signing p.minutes-final", "The minutes are signed and final.")
		if n := anna.count(`form[action$="/minutes/sign"]`); n != 0 {
			t.Errorf("the minutes can be signed again")
		}
		// Signed: no more objections.
		if n := anna.count("details.object"); n != 0 {
			t.Errorf("objections still offered after signing")
		}

		a := tabs[alma.email].in(t)
		a.open(page + "/minutes")
		text := a.texts("main")[0]
		for _, want := range []string{"Place: Hall 1, Hauptstraße 1, Berlin", "Chair: " + clara.name, "Chair's location: Hall 1, on the podium",
			"Question to the board by " + alma.name, question, "Answer of the board by Anna Board", answer,
			"Amendment (put to the vote) by " + bruno.name, "Objection for the minutes by " + alma.name, objectionText,
			"Declaration of the chair", alma.name + " (in person)", "Invitation and agenda as sent"} {
			if !strings.Contains(text, want) {
				t.Errorf("the minutes lack %q:\n%s", want, text)
			}
		}
		if got := a.texts("footer.signatures p.signature"); len(got) != 2 || !strings.Contains(got[0], clara.name+" as chair") || !strings.Contains(got[1], "Anna Board as member of the board") {
			t.Errorf("signatures %q", got)
		}
	})

	ok = ok && t.Run("BylawChangeOnRegistration", func(t *testing.T) {
		closed := votingEnd
		a := tabs[alma.email].in(t)
		a.open("/rules")
		row := "#rule-" + rulebook.RuleNoticePeriodMonths
		// Rules read with their units, dates as the (English) reader reads them.
		a.wantText(row+" td.rule-value", strconv.Itoa(before)+" months")
		a.wantText(row+" td.rule-bylaw", "bylaw rule")
		a.wantText("#registrations .registration-status", "adopted, awaiting registration")
		if n := a.count("#registrations form"); n != 0 {
			t.Errorf("a member is offered to record the registration")
		}
		if got := co.current(t).NoticePeriodMonths; got != before {
			t.Errorf("notice period %d in force before the registration", got)
		}

		// The register enters it 18 days later; the board records it on day 20.
		clock.Set(closed.AddDate(0, 0, 20))
		day := closed.In(berlin).AddDate(0, 0, 18)
		anna := annaTab.in(t)
		anna.open("/rules")
		anna.setValue("#registrations input[name=registered_on]", day.Format("2006-01-02"))
		anna.submit("#registrations form button[type=submit]", http.StatusOK)
		shown := i18n.Date(t.Context(), time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, time.UTC))
		anna.wantText("#registrations .registration-status", "registered "+shown)
		anna.wantText(row+" td.rule-value", "12 months")
		if got := anna.texts(row + " td"); len(got) < 5 || got[4] != shown {
			t.Errorf("registry row %q, want in force since %s", got, shown)
		}
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC) // a calendar day, like every effective date
		for at, want := range map[time.Time]int{start.Add(-time.Second): before, start: 12} {
			p, err := co.rules.At(ctx, at)
			if err != nil || p.NoticePeriodMonths != want {
				t.Errorf("notice period at %s = %d, %v; want %d", at, p.NoticePeriodMonths, err, want)
			}
		}
		a.open("/proposals/" + prop.ID)
		a.wantText("main dl.facts .badge", "adopted")
	})
	_ = ok
}
