package e2e

import (
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"allmende/views"
)

// TestMembership runs the membership capability in Chromium against a
// portal of its own, whose clock the test moves: a visitor applies, two
// board members admit, a board member books the payment, the member gives
// notice, and the daily job ends the membership once the notice period has
// passed. The scenarios build on each other in this order.
func TestMembership(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is not installed (%v); run: go tool task setup", chromiumPath, err)
	}
	clock := models.NewManualClock(time.Now().UTC())
	p, cfg := startClockedPortal(t, clock)
	co := openCoop(t, cfg, clock)
	b := startBrowser(t)
	rules := co.current(t)
	ctx := context.Background()
	en := i18n.WithLocale(ctx, i18n.NewLocale(i18n.English, time.UTC)) // the browser reads English

	const (
		name, email, password = "Ada Lovelace", "ada.member@example.org", "analytical-engine-1843"
		street, postal, city  = "Analytical Way 7", "10115", "Berlin"
		iban                  = "DE89370400440532013000"
		boardPassword         = "board-of-the-coop-1"
		annaEmail, benEmail   = "anna@board.example", "ben@board.example"
		applySel              = `form[action="/membership/apply"] button[type=submit]`
		approveSel            = `form[action$="/approve"] button[type=submit]`
		noticeSel             = `form[action="/membership/notice"] button[type=submit]`
		shares                = 2
		paidCents             = 10000
	)
	p.register(t, "Anna Board", annaEmail, boardPassword, account.RoleBoard)
	p.register(t, "Ben Board", benEmail, boardPassword, account.RoleBoard)
	need := strconv.Itoa(rules.AdmissionApprovals)
	sharesMsg := fmt.Sprintf("Subscribe between %d and %d shares.", rules.MinShares, rules.MaxShares)
	paidShares := min(shares, int(paidCents/rules.SharePriceCents))

	// fillJoin fills the Join form validly, as a user types it; the form
	// already suggests the name, the country and the minimum of shares.
	fillJoin := func(tb *tab) {
		tb.t.Helper()
		tb.wantValue("#f-legal_name", name)
		tb.wantValue("#f-country", "DE")
		if !tb.checked(`input[name=person_kind][value=natural]`) {
			tb.t.Errorf("the Join form does not suggest a natural person")
		}
		tb.retype("#f-street", street)
		tb.retype("#f-postal_code", postal)
		tb.retype("#f-city", city)
		tb.retype("#f-shares", strconv.Itoa(shares))
		tb.setChecked("#f-sepa_mandate", true)
		tb.retype("#f-iban", iban)
		tb.retype("#f-account_holder", name)
		tb.setChecked("#f-acknowledge_notice", true)
		tb.setChecked("#f-accept_bylaws", true)
	}

	applied := t.Run("RegisterAndApply", func(t *testing.T) {
		tab := b.newTab(t, p.url)
		tab.open("/register")
		tab.fill("#f-name", name)
		tab.fill("#f-email", email)
		tab.fill("#f-password", password)
		tab.submit(`form[action="/register"] button[type=submit]`, http.StatusOK)
		tab.confirmRegistration(p.dataDir, email)
		tab.wantPath("/")
		tab.wantText("main article h2", "Not a member yet")

		tab.submit(`nav a[href="/membership"]`, http.StatusOK)
		tab.wantPath("/membership")
		tab.wantText("main h1", "Join the cooperative")
		// A second tab with the same form, loaded before applying: sent
		// after the first application, it must not file a second one.
		second := tab.sibling(t)
		second.open("/membership")

		// Shares below the minimum, an IBAN with a wrong check sum, and the
		// bylaws not accepted.
		fillJoin(tab)
		tab.retype("#f-shares", "0")
		tab.retype("#f-iban", "DE00123")
		tab.setChecked("#f-accept_bylaws", false)
		tab.submit(applySel, http.StatusUnprocessableEntity)
		tab.wantFieldError("#f-shares", "e-f-shares", sharesMsg)
		tab.wantFieldError("#f-iban", "e-iban", "This is not a valid IBAN; please check it for typos.")
		tab.wantFieldError("#f-accept_bylaws", "e-accept_bylaws", "To become a member you need to make the declaration and accept the bylaws.")
		if n := len(tab.texts(".field-error")); n != 3 {
			t.Errorf("%d field errors shown, want 3 (shares, IBAN, bylaws)", n)
		}
		for sel, want := range map[string]string{"#f-shares": "0", "#f-iban": "DE00123", "#f-legal_name": name,
			"#f-street": street, "#f-postal_code": postal, "#f-city": city, "#f-country": "DE", "#f-account_holder": name} {
			tab.wantValue(sel, want)
		}
		if !tab.checked("#f-sepa_mandate") || tab.checked("#f-accept_bylaws") {
			t.Errorf("checkboxes after the error: SEPA %v (want ticked), bylaws %v (want unticked)",
				tab.checked("#f-sepa_mandate"), tab.checked("#f-accept_bylaws"))
		}

		// More shares than the maximum; everything else right now.
		above := strconv.Itoa(rules.MaxShares + 1)
		tab.retype("#f-shares", above)
		tab.retype("#f-iban", iban)
		tab.setChecked("#f-accept_bylaws", true)
		tab.submit(applySel, http.StatusUnprocessableEntity)
		tab.wantFieldError("#f-shares", "e-f-shares", sharesMsg)
		if got := tab.texts(".field-error"); len(got) != 1 {
			t.Errorf("field errors %q, want only the shares'", got)
		}
		tab.wantValue("#f-shares", above)
		tab.wantValue("#f-iban", iban)
		if !tab.checked("#f-accept_bylaws") || !tab.checked("#f-sepa_mandate") {
			t.Errorf("the ticked checkboxes were not kept")
		}

		tab.retype("#f-shares", strconv.Itoa(shares))
		tab.submit(applySel, http.StatusOK)
		tab.wantPath("/membership")
		tab.wantText("main .flash.success", "Thank you! Your application has been received; the board will decide on it.")
		tab.wantText("main h1", "Your application")
		tab.wantText("main dl.facts .badge", "applied, waiting for the board")
		tab.wantText("dd.approvals", "0 of "+need)
		tab.wantText("dd.shares-applied", fmt.Sprintf("%d (%s)", shares, i18n.Money(en, int64(shares)*rules.SharePriceCents)))
		tab.screenshot("membership-applied.png")

		// The stale second tab sends a second application.
		fillJoin(second)
		second.submit(applySel, http.StatusConflict)
		second.wantText("main .flash.error", "You already have an open membership application or are a member.")
		second.wantValue("#f-street", street)
		var open int64
		if err := co.db.Gorm.Raw(`SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = ?`, email).
			Scan(&open).Error; err != nil || open != 1 {
			t.Errorf("memberships of %s: %d (%v), want 1", email, open, err)
		}
		waitForOutboxMail(t, p.dataDir, email, "We received your membership application")
	})

	admitted := applied && t.Run("TwoBoardApprovalsAdmit", func(t *testing.T) {
		anna := b.newTab(t, p.url)
		anna.logIn(annaEmail, boardPassword)
		anna.navTo("/board/applications")
		anna.wantText("main h1", "Applications")
		rows := anna.rows("main table")
		if len(rows) != 1 || rows[0][1] != name || rows[0][2] != email || rows[0][4] != strconv.Itoa(shares) || rows[0][5] != "0 of "+need {
			t.Fatalf("open applications %q, want the one of %s", rows, name)
		}
		appLink := `main table a[href^="/board/applications/"]`
		anna.submit(appLink, http.StatusOK)
		appPath := strings.TrimPrefix(run(t, anna.ctx, chromedp.Location()), p.url)
		anna.wantText("main h1", "Application of "+name)
		anna.wantText("dd.approvals", "0 of "+need)
		if decl := anna.texts("pre.declaration"); len(decl) != 1 || !strings.Contains(decl[0], fmt.Sprintf("I subscribe %d share(s)", shares)) {
			t.Errorf("declaration %q", decl)
		}

		anna.submit(approveSel, http.StatusOK)
		anna.wantPath("/board/applications")
		anna.wantText("main .flash.success", "Your approval is recorded; another board member needs to confirm it.")
		if rows := anna.rows("main table"); len(rows) != 1 || rows[0][5] != "1 of "+need {
			t.Errorf("applications after one approval: %q", rows)
		}

		// The same board member approves again: refused, still one approval.
		anna.submit(appLink, http.StatusOK)
		anna.submit(approveSel, http.StatusOK)
		anna.wantPath(appPath)
		anna.wantText("main .flash.error", "You have already approved this application; another board member needs to confirm it.")
		anna.wantText("dd.approvals", "1 of "+need)
		if got := anna.texts("main ul li"); len(got) != 1 || !strings.HasPrefix(got[0], "approved by Anna Board at ") {
			t.Errorf("approvals listed: %q", got)
		}

		// The applicant sees the count go up.
		applicant := b.newTab(t, p.url)
		applicant.logIn(email, password)
		applicant.open("/membership")
		applicant.wantText("dd.approvals", "1 of "+need)

		ben := b.newTab(t, p.url)
		ben.logIn(benEmail, boardPassword)
		ben.navTo("/board/applications")
		ben.submit(appLink, http.StatusOK)
		ben.submit(approveSel, http.StatusOK)
		ben.wantPath("/board/applications")
		ben.wantText("main .flash.success", "Admitted as member 1.")
		ben.wantText("main p.muted", "No open applications.")

		// Ben books the transfer of the shares' price on the member's page.
		ben.navTo("/board/members")
		today := views.Day(clock.Now())
		want := []string{"1", name, street + ", " + postal + " " + city + ", Germany", i18n.Date(en, clock.Now()), strconv.Itoa(shares), "€0.00",
			i18n.Money(en, int64(shares)*rules.SharePriceCents), "member", "—"}
		if rows := ben.rows("main table"); len(rows) != 1 || !slices.Equal(rows[0], want) {
			t.Errorf("register %q, want [%q]", rows, want)
		}
		ben.submit(`main table a[href^="/board/members/"]`, http.StatusOK)
		ben.wantText("main h1", name)
		if got := ben.fact("Shares subscribed / paid"); got != fmt.Sprintf("%d / 0", shares) {
			t.Errorf("shares subscribed / paid before the payment: %q", got)
		}
		// Ben's browser is German: "100,00" is a hundred euros, shown back
		// before anything is booked.
		if _, err := chromedp.Call(ben.ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9"}}); err != nil {
			t.Fatal(err)
		}
		ben.fill("#f-amount", "100,00")
		run(t, ben.ctx, chromedp.SetValue(chromedp.CSS("#f-date"), today))
		ben.fill("#f-note", "bank transfer")
		ben.submit(`form[action$="/payments"]:not(#payment-confirm-form) button[type=submit]`, http.StatusOK)
		de := i18n.WithLocale(ctx, i18n.NewLocale(i18n.German, time.UTC)) // from here the page is German
		ben.wantText("#payment-confirm-amount", "100,00 €")
		ben.wantText("#payment-confirm-owed", "Geschuldet: "+i18n.Money(de, int64(shares)*rules.SharePriceCents))
		if got := ben.fact("Geschäftsguthaben gezeichnet / eingezahlt"); got != i18n.Money(de, int64(shares)*rules.SharePriceCents)+" / 0,00 €" {
			t.Errorf("booked before the confirmation: capital subscribed / paid %q", got)
		}
		ben.submit(`#payment-confirm-form button[type=submit]`, http.StatusOK)
		ben.wantText("main .flash.success", "Zahlung von 100,00 € erfasst.")
		if got := ben.fact("Geschäftsanteile gezeichnet / eingezahlt"); got != fmt.Sprintf("%d / %d", shares, paidShares) {
			t.Errorf("shares subscribed / paid after the payment: %q", got)
		}
		if got := ben.fact("Geschäftsguthaben gezeichnet / eingezahlt"); got != i18n.Money(de, int64(shares)*rules.SharePriceCents)+" / 100,00 €" {
			t.Errorf("capital subscribed / paid: %q", got)
		}
		waitForOutboxMail(t, p.dataDir, email, "Welcome: you are now a member")
	})

	admitted = admitted && t.Run("MemberSeesNumberAndEntitlement", func(t *testing.T) {
		tab := b.newTab(t, p.url)
		tab.logIn(email, password)
		if got := tab.texts("main article h2"); slices.Contains(got, "Not a member yet") {
			t.Errorf("the dashboard of an admitted member says %q", got)
		}
		tab.submit(`nav a[href="/membership"]`, http.StatusOK)
		tab.wantText("main h1", "Your membership")
		tab.wantText("dd.member-number", "1")
		tab.wantText("main dl.facts .badge", "member")
		tab.wantText("dd.shares-subscribed", strconv.Itoa(shares))
		tab.wantText("dd.shares-paid", strconv.Itoa(paidShares))
		tab.wantText("dd.capital-subscribed", i18n.Money(en, int64(shares)*rules.SharePriceCents))
		tab.wantText("dd.capital-paid", i18n.Money(en, paidCents))
		tab.wantText("dd.entitlement", entitlementText(rules.EntitlementPerShare.Times(paidShares)))
		tab.screenshot("membership-member.png")
	})

	noticeRun := func(t *testing.T) {
		tab := b.newTab(t, p.url)
		dialogs := tab.acceptDialogs()
		tab.logIn(email, password)
		tab.open("/membership")
		effective := membership.NoticeEffectiveDate(clock.Now(), rules)
		eff := i18n.Date(en, effective)
		tab.wantText("strong.notice-preview", eff)

		// On more shares than held.
		tab.setChecked(`input[name=scope][value=shares]`, true)
		tab.retype("#f-notice-shares", strconv.Itoa(shares+1))
		tab.submit(noticeSel, http.StatusUnprocessableEntity)
		tab.wantFieldError("#f-notice-shares", "e-f-notice-shares",
			fmt.Sprintf("You hold %d shares not already under notice; you cannot give notice on %d.", shares, shares+1))
		tab.wantValue("#f-notice-shares", strconv.Itoa(shares+1))

		// On so many that fewer than the minimum would remain.
		below := shares - rules.MinShares + 1
		tab.retype("#f-notice-shares", strconv.Itoa(below))
		tab.submit(noticeSel, http.StatusUnprocessableEntity)
		tab.wantFieldError("#f-notice-shares", "e-f-notice-shares",
			fmt.Sprintf("A member keeps at least %d share(s); give notice on the whole membership instead.", rules.MinShares))
		tab.wantText("main dl.facts .badge", "member")

		// On the whole membership.
		tab.setChecked(`input[name=scope][value=whole]`, true)
		tab.submit(noticeSel, http.StatusOK)
		tab.wantPath("/membership")
		tab.wantText("main .flash.success", "Your notice has been recorded. It takes effect on "+eff+".")
		tab.wantText("main dl.facts .badge", "member, leaving by notice")
		if got := tab.texts("#notices td.effective-on"); !slices.Equal(got, []string{eff}) {
			t.Errorf("notices take effect on %q, want [%s]", got, eff)
		}
		if n := len(tab.texts(`form[action="/membership/notice"]`)); n != 0 {
			t.Errorf("a leaving member is still offered to give notice")
		}
		asked := "Give notice? It takes effect on " + eff + "."
		if got := dialogs(); len(got) != 3 || got[0] != asked || got[2] != asked {
			t.Errorf("confirmations %q, want %q three times", got, asked)
		}
		waitForOutboxMail(t, p.dataDir, email, "Your notice is confirmed")

		// The notice period passes; the daily job ends the membership.
		clock.Set(effective.AddDate(0, 0, 1).Add(9 * time.Hour))
		if _, err := co.queue.Insert(ctx, jobargs.ProcessMemberships{}, nil); err != nil {
			t.Fatalf("enqueue the daily job: %v", err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			tab.open("/membership")
			if s := tab.texts("main dl.facts .badge"); slices.Equal(s, []string{"former member"}) {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the daily job did not end the membership: status %q\n%s", s, tab.html("main"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		tab.wantText("dd.member-number", "1")
		if got := tab.fact("Left on"); got != eff+" (notice)" {
			t.Errorf("left on %q, want %q", got, eff+" (notice)")
		}
		due := addMonthsClamped(effective, 6)
		if got, want := tab.rows("#refunds table"), []string{i18n.Date(en, due), i18n.Money(en, paidCents), "notice", "—"}; len(got) != 1 || !slices.Equal(got[0], want) {
			t.Errorf("refunds %q, want [%q]", got, want)
		}
		tab.wantText("dd.shares-subscribed", "0")
		tab.wantText(`main a[href="/membership/apply"]`, "Apply again")
		tab.screenshot("membership-former.png")

		tab.open("/")
		tab.wantText("main article h2", "Not a member yet")
		u, err := p.srv.Accounts.ByEmail(ctx, email)
		if err != nil || u.Has(account.RoleMember) {
			t.Errorf("account after the membership ended: roles %v, err %v; want no member role", u.Roles, err)
		}
		body := mailBody(t, waitForOutboxMail(t, p.dataDir, email, "Your membership has ended"))
		// An English account: dates and money as English reads them.
		en := t.Context()
		for _, part := range []string{"your membership ended on " + i18n.Date(en, effective),
			i18n.Money(en, paidCents) + " will be paid back to you by " + i18n.Date(en, due)} {
			if !strings.Contains(body, part) {
				t.Errorf("the mail on the end lacks %q:\n%s", part, body)
			}
		}
	}

	if admitted { // otherwise it would only repeat that failure
		t.Run("NoticeAndDailyJobEndMembership", noticeRun)
	}

	// The remaining scenarios admit with one approval, and need open
	// applications filed through the domain, as the API would.
	if err := co.rules.Set(ctx, models.SystemActor("e2e"), rulebook.RuleAdmissionApprovals, "1", clock.Now().Add(-time.Hour), "initial"); err != nil {
		t.Fatalf("one approval: %v", err)
	}
	const applicants = 6
	var ids, names []string
	for i := range applicants {
		n := fmt.Sprintf("Concurrent Applicant %d", i+1)
		u, err := p.srv.Accounts.Register(ctx, models.SystemActor("e2e"),
			account.RegisterInput{Email: fmt.Sprintf("applicant%d@example.org", i+1), Name: n, Password: "applicant-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := co.members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
			PersonKind: membership.PersonNatural, LegalName: n, Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
			Country: "DE", Shares: 1, AcceptBylaws: true, BylawsVersion: rules.BylawsVersion, AcknowledgeNoticePeriod: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids, names = append(ids, m.ID), append(names, n)
	}
	approvalsOf := func(t *testing.T, id string) int64 {
		var n int64
		if err := co.db.Gorm.Raw(`SELECT COUNT(*) FROM membership_approvals WHERE membership_id = ?`, id).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("NonBoardMemberForbidden", func(t *testing.T) {
		const noraEmail, noraPassword = "nora@example.org", "only-a-member-1"
		p.register(t, "Nora Member", noraEmail, noraPassword, account.RoleMember)
		tab := b.newTab(t, p.url)
		tab.logIn(noraEmail, noraPassword)
		if n := len(tab.texts(`nav a[href^="/board/"]`)); n != 0 {
			t.Errorf("a member's navigation links to %d board pages", n)
		}
		for _, path := range []string{"/board/applications", "/board/applications/" + ids[0], "/board/members", "/board/members/" + ids[0]} {
			tab.openStatus(path, http.StatusForbidden)
			tab.wantText("main h1", "Not allowed")
			tab.wantText("main .error-page p", "This needs the board role.")
		}
		// A forged approval, with a valid CSRF token, is refused as well.
		tab.open("/")
		status := run(t, tab.ctx, chromedp.Evaluate[int](`(() => {
			const token = document.querySelector('meta[name="csrf-token"]').content;
			return fetch("/board/applications/`+ids[0]+`/approve", {method: "POST", redirect: "manual",
				headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
				body: "_csrf=" + encodeURIComponent(token)}).then(r => r.status);
		})()`, chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Errorf("a member's approval answered %d, want 403", status)
		}
		if n := approvalsOf(t, ids[0]); n != 0 {
			t.Errorf("a member's approval was recorded: %d approvals", n)
		}
	})

	t.Run("ConcurrentAdmissionsKeepNumbersGapless", func(t *testing.T) {
		var before int64
		if err := co.db.Gorm.Raw(`SELECT COUNT(*) FROM memberships WHERE member_number IS NOT NULL`).Scan(&before).Error; err != nil {
			t.Fatal(err)
		}
		boards := []*tab{b.newTab(t, p.url), b.newTab(t, p.url)}
		boards[0].logIn(annaEmail, boardPassword)
		boards[1].logIn(benEmail, boardPassword)

		// Each board member has every application open in a tab of their
		// own; then all tabs click Approve at once.
		type click struct {
			tab    *tab
			app    int
			path   string
			status int64
			flash  []string
			err    error
		}
		var clicks []*click
		for i, id := range ids {
			for _, board := range boards {
				s := board.sibling(t)
				s.open("/board/applications/" + id)
				s.wantText("dd.approvals", "0 of 1")
				clicks = append(clicks, &click{tab: s, app: i})
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range clicks {
			wg.Go(func() {
				<-start
				resp, err := chromedp.RunResponse(c.tab.ctx, chromedp.Click(chromedp.CSS(approveSel)))
				if err == nil && resp == nil {
					err = fmt.Errorf("no page loaded")
				}
				if err != nil {
					c.err = err
					return
				}
				c.status = resp.Status
				loc, err := chromedp.Run(c.tab.ctx, chromedp.Location())
				if err != nil {
					c.err = err
					return
				}
				c.path = strings.TrimPrefix(loc, p.url)
				c.flash, c.err = chromedp.Run(c.tab.ctx, chromedp.Evaluate[[]string](
					`[...document.querySelectorAll("main .flash")].map(e => e.className + ": " + e.textContent.trim())`))
			})
		}
		close(start)
		wg.Wait()

		var flashes []string
		// Winner and loser both land on the queue: the winner with "Admitted
		// as member N.", the loser with "already decided" (its application
		// page is gone). Flashes live in the shared session cookie, so which
		// tab shows which message is not certain; that each application was
		// admitted exactly once is checked in the database below.
		for i := range ids {
			for _, c := range clicks {
				if c.app != i {
					continue
				}
				switch {
				case c.err != nil:
					t.Errorf("approve %s: %v", names[i], c.err)
				case c.status >= 500:
					t.Errorf("approve %s: %s answered %d", names[i], c.path, c.status)
				case c.path != "/board/applications" || c.status != http.StatusOK:
					t.Errorf("approve %s: ended at %s (%d), want the applications queue", names[i], c.path, c.status)
				}
				flashes = append(flashes, c.flash...)
			}
		}
		for _, f := range flashes {
			if !strings.HasPrefix(f, "flash success: Admitted as member ") && f != "flash error: This application has already been decided." {
				t.Errorf("unexpected message after a concurrent approval: %q", f)
			}
		}

		reg := boards[0]
		reg.open("/board/applications")
		reg.wantText("main p.muted", "No open applications.")
		reg.open("/board/members")
		var numbers []int
		byName := map[string]int{}
		for _, row := range reg.rows("main table") {
			n, err := strconv.Atoi(row[0])
			if err != nil {
				t.Fatalf("register row %q: member number %v", row, err)
			}
			numbers = append(numbers, n)
			byName[row[1]]++
			if slices.Contains(names, row[1]) && row[7] != "member" {
				t.Errorf("register row %q: want status member", row)
			}
		}
		slices.Sort(numbers)
		want := make([]int, int(before)+applicants)
		for i := range want {
			want[i] = i + 1
		}
		if !slices.Equal(numbers, want) {
			t.Errorf("member numbers in the register %v, want exactly %v", numbers, want)
		}
		for _, n := range names {
			if byName[n] != 1 {
				t.Errorf("%s is in the register %d times, want once", n, byName[n])
			}
		}
		for i, id := range ids {
			if n := approvalsOf(t, id); n != 1 {
				t.Errorf("%s has %d approvals recorded, want 1", names[i], n)
			}
		}
		reg.screenshot("member-register.png")
	})
}

// mailBody is the decoded text of an .eml file.
func mailBody(t *testing.T, eml string) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(eml))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, eml)
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read mail: %v", err)
	}
	return string(b)
}
