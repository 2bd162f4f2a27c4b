package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/rulebook"
	"allmende/views"
)

// TestGovernance runs one general assembly in Chromium against a portal of
// its own, whose clock the test moves: a member proposes a new entitlement
// per share, two others support it, the board convenes a two-phase assembly
// with the proposal and a secret item on the agenda and sends the
// invitations, a member authorises another before voting opens, the members
// vote in their own browsers (one of them also for the member who
// authorised them), the board closes the vote, and the results are
// published; the adopted change is then in force, and the members'
// entitlement follows it. The scenarios build on each other in this order.
func TestGovernance(t *testing.T) {
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

	const (
		boardPassword       = "board-of-the-coop-1"
		annaEmail, benEmail = "anna@board.example", "ben@board.example"
		memberPassword      = "one-member-one-vote"
		shares              = 2
		title               = "Spring assembly"
		proposalTitle       = "More vCPUs per share"
		accountsTitle       = "Approve the annual accounts"
		declaration         = "I, Dora Dietz, authorise Bruno Berg to vote for me at the Spring assembly."
		invitation          = "Invitation to the general assembly: " + title
		submitSel           = `main form[action="/proposals/new"] button[type=submit]`
	)
	p.register(t, "Anna Board", annaEmail, boardPassword, account.RoleBoard)
	p.register(t, "Ben Board", benEmail, boardPassword, account.RoleBoard)
	board := boardActors(t, p, annaEmail, benEmail)
	alma := co.admitPaid(t, p, clock, board, "Alma Achter", "alma@example.org", memberPassword, shares)
	bruno := co.admitPaid(t, p, clock, board, "Bruno Berg", "bruno@example.org", memberPassword, shares)
	clara := co.admitPaid(t, p, clock, board, "Clara Conrad", "clara@example.org", memberPassword, 1)
	dora := co.admitPaid(t, p, clock, board, "Dora Dietz", "dora@example.org", memberPassword, shares)
	members := []admitted{alma, bruno, clara, dora}

	before := co.current(t)
	newVCPUs := before.EntitlementPerShare.VCPUs + 2
	// The support that obliges the board to place a proposal (§45 GenG),
	// as the domain counts it: a share of the members, rounded up.
	percent, err := strconv.Atoi(ruleValue(t, gov, rulebook.RuleProposalSupportPercent))
	if err != nil {
		t.Fatal(err)
	}
	supportNeeded := max(1, (len(members)*percent+99)/100)
	noticeDays, err := strconv.Atoi(ruleValue(t, gov, rulebook.RuleAssemblyNoticeDays))
	if err != nil {
		t.Fatal(err)
	}
	receiptDays, err := strconv.Atoi(ruleValue(t, gov, rulebook.RuleInvitationReceiptDays))
	if err != nil {
		t.Fatal(err)
	}
	// Dates that keep the notice period (§46 GenG): the discussion, part
	// of a two-phase assembly, starts a day after the whole days counted
	// from the day the invitation counts as received.
	discussionStart := t0.AddDate(0, 0, receiptDays+noticeDays+2)
	discussionEnd := discussionStart.AddDate(0, 0, 1)
	votingStart, votingEnd := discussionEnd, discussionEnd.AddDate(0, 0, 7)
	// The board enters times in the cooperative's time zone (rule time_zone).
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	local := func(t time.Time) string { return t.In(berlin).Format("2006-01-02T15:04") }

	// Every participant has their own browser context for the whole
	// scenario, signed in once.
	tabs := map[string]*tab{}
	for _, m := range members {
		tabs[m.email] = b.newTabWithin(t, p.url, 2*time.Minute)
		tabs[m.email].logIn(m.email, m.password)
	}
	annaTab := b.newTabWithin(t, p.url, 2*time.Minute)
	confirms := annaTab.acceptDialogs()
	annaTab.logIn(annaEmail, boardPassword)

	var proposalID, assemblyID, page, changeItem, accountsItem, resultHash string

	ok := t.Run("ProposeAndSupport", func(t *testing.T) {
		a := tabs[alma.email].in(t)
		a.open("/membership")
		a.wantText("dd.entitlement", entitlementText(before.EntitlementPerShare.Times(alma.paidShares)))

		a.submit(`nav a[href="/proposals"]`, http.StatusOK)
		a.wantText("main h1", "Proposals")
		a.submit(`main a[href="/proposals/new"]`, http.StatusOK)
		a.wantText("main h1", "New proposal")
		a.wantValue("#f-kind", governance.ProposalParameters)
		a.fill("#f-title", proposalTitle)
		a.fill("#f-reasoning", "Our hosts have cores to spare; let every paid share use more of them.")
		// One parameter, offered with the value in force.
		a.setValue("#f-parameter", rulebook.RuleEntitlementVCPUs)
		if got, want := a.text("#f-parameter option:checked"), fmt.Sprintf("vCPUs per paid share (now %d)", before.EntitlementPerShare.VCPUs); got != want {
			t.Errorf("the chosen parameter reads %q, want %q", got, want)
		}
		a.fill("#f-new_value", strconv.Itoa(newVCPUs))
		a.setValue("#f-effective_from", views.Day(clock.Now()))
		a.submit(submitSel, http.StatusOK)
		path := a.path()
		id, found := strings.CutPrefix(path, "/proposals/")
		if !found || id == "" || strings.Contains(id, "/") {
			t.Fatalf("after submitting at %s, want the proposal's page\n%s", path, a.html("main"))
		}
		proposalID = id
		a.wantText("main .flash.success", "Your proposal has been submitted. Other members can now comment on and support it.")
		a.wantText("main h1", proposalTitle)
		a.wantText("main dl.facts .badge", "submitted, collecting support")
		a.wantText("dd.supporters", fmt.Sprintf("0 of %d needed", supportNeeded))
		if got, want := a.fact("In force from"), clock.Now().UTC().Format("2 Jan 2006"); got != want {
			t.Errorf("in force from %q, want %s", got, want)
		}
		if got, want := a.text("main p.param-change"), fmt.Sprintf("vCPUs per paid share: %d → becomes %d", before.EntitlementPerShare.VCPUs, newVCPUs); got != want {
			t.Errorf("the change reads %q, want %q", got, want)
		}

		// Bruno and Clara find it in the list and support it.
		for i, m := range []admitted{bruno, clara} {
			s := tabs[m.email].in(t)
			s.submit(`nav a[href="/proposals"]`, http.StatusOK)
			s.submit(`main table a[href="/proposals/`+proposalID+`"]`, http.StatusOK)
			s.submit(`#support form button[type=submit]`, http.StatusOK)
			s.wantPath("/proposals/" + proposalID)
			s.wantText("main .flash.success", "Thank you: your support has been recorded.")
			s.wantText("#support .badge.ok", "You support this proposal.")
			n := i + 1
			s.wantText("dd.supporters", supportText(n, supportNeeded))
			if got, want := s.count(".must-be-placed") == 1, n >= supportNeeded; got != want {
				t.Errorf("with %d of %d supporters the must-be-placed notice shows: %v, want %v", n, supportNeeded, got, want)
			}
		}
		a.open("/proposals")
		if got := a.rows("main table"); len(got) != 1 || got[0][1] != proposalTitle || got[0][4] != supportText(2, supportNeeded) || got[0][5] != "submitted, collecting support" {
			t.Errorf("proposals %q", got)
		}
		a.screenshot("governance-proposal.png")
	})

	ok = ok && t.Run("BoardConvenesAndInvites", func(t *testing.T) {
		anna := annaTab.in(t)
		anna.navTo("/board/assemblies/new")
		anna.wantText("main h1", "New general assembly")
		anna.fill("#f-title", title)
		anna.fill("#f-description", "Online: the discussion in the forum, then the vote in the portal.")
		anna.setValue("#f-form", governance.FormTwoPhase)
		anna.fill("#f-access_details", "https://forum.example.org/spring")
		anna.fill("#f-discussion_form", "A thread per agenda item in the forum.")
		anna.setValue("#f-discussion_start", local(discussionStart))
		anna.setValue("#f-discussion_end", local(discussionEnd))
		anna.setValue("#f-voting_start", local(votingStart))
		anna.setValue("#f-voting_end", local(votingEnd))
		anna.submit(`main form[action="/board/assemblies/new"] button[type=submit]`, http.StatusOK)
		id, found := strings.CutPrefix(anna.path(), "/board/assemblies/")
		if !found || id == "" || strings.Contains(id, "/") {
			t.Fatalf("after creating at %s, want the assembly's board page\n%s", anna.path(), anna.html("main"))
		}
		assemblyID, page = id, "/assemblies/"+id
		anna.wantText("main .flash.success", "The assembly has been created. Now set its agenda.")
		anna.wantText("main dl.facts .badge", "planned")
		if got, want := anna.fact("Voting"), views.DateTimeIn(context.Background(), votingStart, "Europe/Berlin")+" – "+views.DateTimeIn(context.Background(), votingEnd, "Europe/Berlin"); got != want {
			t.Errorf("voting %q, want %q", got, want)
		}
		if n := anna.count(".notice-warning"); n != 0 {
			t.Errorf("dates that keep the %d days' notice raise a warning: %s", noticeDays, anna.html(".notice-warning"))
		}
		mustPlace := anna.texts("#must-place li")
		if wantListed := 2 >= supportNeeded; (len(mustPlace) == 1 && strings.HasPrefix(mustPlace[0], proposalTitle)) != wantListed {
			t.Errorf("proposals to be placed %q; listed wanted: %v", mustPlace, wantListed)
		}

		// The proposal, with title and reasoning taken from it.
		anna.setValue("#f-proposal_id", proposalID)
		anna.wantValue("#f-kind", governance.ItemOrdinary)
		anna.submit(`#add-item form button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "Item "+proposalTitle+" added to the agenda.")
		if n := anna.count("#must-place"); n != 0 {
			t.Errorf("the placed proposal is still listed as to be placed")
		}
		// The accounts, voted by name (secret items need trustees: ballots_test.go).
		anna.fill("#f-title", accountsTitle)
		anna.submit(`#add-item form button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "Item "+accountsTitle+" added to the agenda.")
		ids := run(t, anna.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#agenda li[id^=item-]")].map(e => e.id.slice(5))`))
		titles := anna.texts("#agenda li > strong")
		if len(ids) != 2 || !slices.Equal(titles, []string{proposalTitle, accountsTitle}) {
			t.Fatalf("agenda %q (%q), want the proposal and the accounts", titles, ids)
		}
		changeItem, accountsItem = ids[0], ids[1]
		if facts := anna.texts("#agenda li p small"); len(facts) != 2 || !strings.Contains(facts[0], "named ballot") ||
			!strings.Contains(facts[0], "the proposal") || !strings.Contains(facts[1], "named ballot") {
			t.Errorf("item facts %q", facts)
		}

		anna.submit(`form[action$="/invite"] button[type=submit]`, http.StatusOK)
		anna.wantPath("/board/assemblies/" + assemblyID)
		if got := anna.texts("main .flash"); !slices.Equal(got, []string{"The invitations are being sent to every member."}) {
			t.Errorf("after inviting the page says %q", got)
		}
		if got, want := anna.fact("Invitations sent"), views.DateTimeIn(context.Background(), clock.Now(), "Europe/Berlin"); got != want {
			t.Errorf("invitations sent %q, want %s", got, want)
		}
		if got := confirms(); len(got) != 1 || got[0] != "Send the invitation with the agenda to every member?" {
			t.Errorf("confirmations %q", got)
		}
		// The invitation announced the agenda: only items members demand
		// (§45(2) GenG) can still be added, and no second invitation.
		if got := anna.texts("#add-item p"); len(got) == 0 || !strings.Contains(got[0], "only proposals members demanded") {
			t.Errorf("the agenda form after the invitation says %q", got)
		}
		if n := anna.count(`form[action$="/invite"]`); n != 0 {
			t.Errorf("the invitation can be sent twice")
		}
		if got := anna.texts("#agenda li > strong"); !slices.Equal(got, []string{proposalTitle, accountsTitle}) {
			t.Errorf("agenda after the invitation %q", got)
		}
		for _, m := range members {
			waitForOutboxMail(t, p.dataDir, m.email, invitation)
		}
		body := mailBody(t, waitForOutboxMail(t, p.dataDir, alma.email, invitation))
		for _, part := range []string{"1. " + proposalTitle, "2. " + accountsTitle,
			"Voting: " + votingStart.In(berlin).Format("2 Jan 2006, 15:04 MST"),
			"Taking part online: https://forum.example.org/spring"} {
			if !strings.Contains(body, part) {
				t.Errorf("the invitation lacks %q:\n%s", part, body)
			}
		}
		for _, e := range []string{annaEmail, benEmail} {
			if n := outboxCount(p.dataDir, e, invitation); n != 0 {
				t.Errorf("%s, on the board but no member, got %d invitations", e, n)
			}
		}
		anna.screenshot("governance-board-planned.png")
	})

	ok = ok && t.Run("ProxyBeforeVoting", func(t *testing.T) {
		d := tabs[dora.email].in(t)
		d.submit(`nav a[href="/assemblies"]`, http.StatusOK)
		d.submit(`main table a[href="`+page+`"]`, http.StatusOK)
		d.wantText("main h1", title)
		if got := d.texts("#agenda article header"); !slices.Equal(got, []string{"1. " + proposalTitle, "2. " + accountsTitle}) {
			t.Errorf("agenda %q", got)
		}
		d.fill("#f-proxy_email", bruno.email)
		d.retype("#f-declaration", declaration)
		d.submit(`form[action$="/proxy"] button[type=submit]`, http.StatusOK)
		d.wantPath(page)
		d.wantText("main .flash.success", "Your proxy has been granted.")
		d.wantText("#proxy strong.proxy-name", bruno.name)
		if got := d.texts("#proxy pre.declaration"); !slices.Equal(got, []string{declaration}) {
			t.Errorf("declaration %q, want %q", got, declaration)
		}

		bt := tabs[bruno.email].in(t)
		bt.open(page)
		if got := bt.texts("#proxy ul.proxies-held li"); len(got) != 1 || !strings.HasPrefix(got[0], dora.name+", since ") {
			t.Errorf("proxies Bruno holds: %q", got)
		}
		waitForOutboxMail(t, p.dataDir, bruno.email, "You have been authorised to vote for another member")
	})

	ok = ok && t.Run("BoardOpensVoting", func(t *testing.T) {
		clock.Set(votingStart.Add(30 * time.Minute))
		anna := annaTab.in(t)
		anna.open("/board/assemblies/" + assemblyID)
		anna.submit(`form[action$="/open"] button[type=submit]`, http.StatusOK)
		anna.wantText("main .flash.success", "Voting is open.")
		anna.wantText("main dl.facts .badge", "voting open")
		if got := anna.texts("#turnout td.turnout"); !slices.Equal(got, []string{"0 of 4", "0 of 4"}) {
			t.Errorf("turnout at the opening %q, want 0 of 4 members on both items", got)
		}
	})

	ok = ok && t.Run("MembersVote", func(t *testing.T) {
		own := func(item string, m admitted) string { return "#ballot-" + item + "-" + m.id }
		// vote ticks choice in the ballot form sel and casts it.
		vote := func(tb *tab, sel, choice string, status int64) {
			t.Helper()
			tb.setChecked(sel+` input[name=choice][value=`+choice+`]`, true)
			tb.submit(sel+` button[type=submit]`, status)
		}

		a := tabs[alma.email].in(t)
		a.open(page)
		// A second tab with the ballot, loaded before Alma votes.
		stale := a.sibling(t)
		stale.open(page)
		vote(a, own(changeItem, alma), governance.ChoiceYes, http.StatusOK)
		a.wantPath(page)
		a.wantText("main .flash.success", "Your vote has been recorded.")
		a.wantText("#item-"+changeItem+" p.voted", "voted Your vote")
		// The stale tab casts again: refused, the first vote stands.
		vote(stale, own(changeItem, alma), governance.ChoiceNo, http.StatusConflict)
		stale.wantText("#item-"+changeItem+" .flash.error", "This vote has already been cast on this item.")
		stale.wantText("#item-"+changeItem+" p.voted", "voted Your vote")

		vote(a, own(accountsItem, alma), governance.ChoiceYes, http.StatusOK)
		a.wantText("main .flash.success", "Your vote has been recorded.")

		// Bruno votes for himself and, by proxy, for Dora.
		bt := tabs[bruno.email].in(t)
		bt.open(page)
		if got := bt.texts("#item-" + changeItem + " form.ballot legend"); !slices.Equal(got, []string{"Your vote", "Vote for " + dora.name + " (by proxy)"}) {
			t.Errorf("Bruno's ballots %q", got)
		}
		vote(bt, own(changeItem, bruno), governance.ChoiceYes, http.StatusOK)
		bt.wantText("main .flash.success", "Your vote has been recorded.")
		vote(bt, own(changeItem, dora), governance.ChoiceYes, http.StatusOK)
		bt.wantText("main .flash.success", "Your vote has been recorded.")
		vote(bt, own(accountsItem, bruno), governance.ChoiceYes, http.StatusOK)
		bt.wantText("main .flash.success", "Your vote has been recorded.")
		vote(bt, own(accountsItem, dora), governance.ChoiceNo, http.StatusOK)
		bt.wantText("main .flash.success", "Your vote has been recorded.")
		if got := bt.texts("main p.voted"); len(got) != 4 {
			t.Errorf("Bruno's page after voting shows %q, want four votes cast", got)
		}

		c := tabs[clara.email].in(t)
		c.open(page)
		vote(c, own(changeItem, clara), governance.ChoiceNo, http.StatusOK)
		vote(c, own(accountsItem, clara), governance.ChoiceAbstain, http.StatusOK)

		// Dora gave her vote to Bruno, who has cast it on both items; a
		// vote of her own would have overridden the proxy, but cannot count
		// twice now.
		d := tabs[dora.email].in(t)
		d.open(page)
		if n := d.count("form.ballot"); n != 0 {
			t.Errorf("Dora, whose proxy voted for her, has %d ballot forms", n)
		}
		if got := d.texts("main p.voted"); len(got) != 2 {
			t.Errorf("Dora's agenda shows %q, want her two votes cast", got)
		}
		d.wantText("#proxy strong.proxy-name", bruno.name)
		if n := d.count(`form[action$="/proxy/revoke"]`); n != 0 {
			t.Errorf("Dora can still revoke her proxy after voting opened")
		}

		anna := annaTab.in(t)
		anna.open("/board/assemblies/" + assemblyID)
		if got := anna.texts("#turnout td.turnout"); !slices.Equal(got, []string{"4 of 4", "4 of 4"}) {
			t.Errorf("turnout %q, want 4 of 4 on both items", got)
		}
		if n := anna.count("#board-results"); n != 0 {
			t.Errorf("the board sees results before the close")
		}
	})

	ok = ok && t.Run("BoardClosesVoting", func(t *testing.T) {
		clock.Set(votingEnd) // voting runs for the whole announced period
		anna := annaTab.in(t)
		anna.submit(`form[action$="/close"] button[type=submit]`, http.StatusOK)
		anna.wantPath("/board/assemblies/" + assemblyID)
		flash := anna.texts("main .flash.success")
		m := regexp.MustCompile(`^Voting is closed and the results are published \(SHA-256 ([0-9a-f]{64})\)\.$`).FindStringSubmatch(strings.Join(flash, "|"))
		if m == nil {
			t.Fatalf("after closing the page says %q", flash)
		}
		resultHash = m[1]
		anna.wantText("main dl.facts .badge", "closed")
		if got := confirms(); len(got) != 3 || got[2] != "Close voting and publish the results? This cannot be undone." {
			t.Errorf("confirmations %q", got)
		}
		if got := anna.texts("#board-results .item-result [data-result]"); !slices.Equal(got, []string{"adopted", "adopted"}) {
			t.Errorf("board results %q", got)
		}
		// Anyone with the database counts again and gets the same file.
		again, err := gov.Tally(ctx, assemblyID)
		if err != nil {
			t.Fatal(err)
		}
		if again.ResultHash != resultHash {
			t.Errorf("recounted hash %s, published %s", again.ResultHash, resultHash)
		}
		anna.screenshot("governance-board-closed.png")
	})

	ok = ok && t.Run("ResultsPublished", func(t *testing.T) {
		a := tabs[alma.email].in(t)
		a.submit(`nav a[href="/assemblies"]`, http.StatusOK)
		if got := a.rows("main table"); len(got) != 1 || got[0][0] != title || got[0][3] != "closed" {
			t.Errorf("assemblies %q", got)
		}
		a.submit(`main table a[href="`+page+`"]`, http.StatusOK)
		a.wantText("#result-hash", resultHash)
		if n := a.count("form.ballot") + a.count("#proxy"); n != 0 {
			t.Errorf("a closed assembly still offers ballots or proxies")
		}

		change := "#item-" + changeItem + " "
		a.wantText(change+"[data-result]", "adopted")
		for cell, want := range map[string]string{"yes": "3", "no": "1", "abstain": "0", "cast": "4"} {
			a.wantText(change+"table.tally td."+cell, want)
		}
		want := [][]string{{alma.name, "yes"}, {bruno.name, "yes"}, {clara.name, "no"}, {dora.name + " (by proxy " + bruno.name + ")", "yes"}}
		if got := a.rows(change + "details.ballots table"); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("named ballots %q, want %q", got, want)
		}

		accounts := "#item-" + accountsItem + " "
		a.wantText(accounts+"[data-result]", "adopted")
		for cell, want := range map[string]string{"yes": "2", "no": "1", "abstain": "1", "cast": "4"} {
			a.wantText(accounts+"table.tally td."+cell, want)
		}
		// The ballot list is folded; Alma opens it to look for her code.
		if err := chromedp.Do(a.ctx, chromedp.Click(chromedp.CSS(accounts+"details.ballots summary"))); err != nil {
			t.Fatal(err)
		}
		if !run(t, a.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).open`, accounts+"details.ballots"))) {
			t.Errorf("the ballot list did not open")
		}
		ballots := a.rows(accounts + "details.ballots table")
		found := 0
		for _, row := range ballots {
			if strings.Contains(strings.Join(row, " "), alma.name) && strings.Contains(strings.Join(row, " "), governance.ChoiceYes) {
				found++
			}
		}
		if len(ballots) != 4 || found != 1 {
			t.Errorf("named ballots %q: want 4, Alma's yes once", ballots)
		}
		a.screenshot("governance-results.png")

		a.open("/proposals/" + proposalID)
		a.wantText("main dl.facts .badge", "adopted")
	})

	if ok {
		t.Run("AdoptedChangeInForce", func(t *testing.T) {
			after := co.current(t)
			if after.EntitlementPerShare.VCPUs != newVCPUs {
				t.Fatalf("vCPUs per share in force after the close: %d, want %d", after.EntitlementPerShare.VCPUs, newVCPUs)
			}
			hist, err := co.rules.History(ctx, rulebook.RuleEntitlementVCPUs)
			if err != nil {
				t.Fatal(err)
			}
			last := hist[len(hist)-1]
			if last.AdoptedBy != changeItem || last.Value != strconv.Itoa(newVCPUs) || last.EffectiveFrom.After(clock.Now()) {
				t.Errorf("latest version %+v, want %d adopted by item %s, in force now", last, newVCPUs, changeItem)
			}

			a := tabs[alma.email].in(t)
			a.submit(`nav a[href="/rules"]`, http.StatusOK)
			row := "#rule-" + rulebook.RuleEntitlementVCPUs
			a.wantText(row+" td.rule-value", strconv.Itoa(newVCPUs))
			a.wantText(row+" td.rule-adopted-by a[href='/assemblies/"+assemblyID+"#item-"+changeItem+"']", proposalTitle)
			// Entitlements are set by resolution: in force at once (§16(6) GenG
			// holds back only bylaw rules).
			if got := a.texts(row + " td"); len(got) < 5 || got[2] != "by resolution" || got[4] != last.EffectiveFrom.UTC().Format("2 Jan 2006") {
				t.Errorf("registry row %q, want in force since %s", got, last.EffectiveFrom.UTC().Format("2 Jan 2006"))
			}

			// Every member's entitlement follows the new rule.
			for _, m := range members {
				tb := tabs[m.email].in(t)
				tb.submit(`nav a[href="/membership"]`, http.StatusOK)
				was := entitlementText(before.EntitlementPerShare.Times(m.paidShares))
				now := entitlementText(after.EntitlementPerShare.Times(m.paidShares))
				if now == was {
					t.Fatalf("the entitlement of %d paid shares does not change (%s)", m.paidShares, now)
				}
				tb.wantText("dd.entitlement", now)
			}
			a.open("/vms/new")
			if got := a.rows("table.vm-usage"); len(got) < 1 || got[0][0] != "vCPUs" || got[0][2] != strconv.Itoa(newVCPUs*alma.paidShares) {
				t.Errorf("usage table %q, want %d vCPUs entitled", got, newVCPUs*alma.paidShares)
			}
			a.screenshot("governance-rules.png")
		})
	}
}

// supportText is how a proposal's support reads: met as "enough", short
// of it as "n of needed".
func supportText(n, needed int) string {
	if n < needed {
		return fmt.Sprintf("%d of %d needed", n, needed)
	}
	if n == 1 {
		return fmt.Sprintf("1 supporter — enough (%d needed)", needed)
	}
	return fmt.Sprintf("%d supporters — enough (%d needed)", n, needed)
}
