package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/governance"
	"allmende/models/membership"
	"allmende/web"
)

// axe-core 4.14.1 (npm, MPL-2.0), for the accessibility check below; only
// the tests load it, never the portal.
//
//go:embed testdata/axe.min.js
var axeSource string

// phoneWidth is a small phone's CSS width (iPhone 12-15: 390 px).
const phoneWidth = 390

// TestEveryPageOnPhone crawls the portal as an admin who is also on the
// board and a member, as a plain member, as an applicant and signed out, following every
// link from the dashboard (or the login page), at a phone's width, in a
// German and in an English browser (German words are longer: a label that
// fits in English may not). On every page it checks that the page is in the
// browser's language, that nothing scrolls sideways and that axe-core finds
// no serious or critical accessibility violation. New pages are covered as
// soon as a link leads to them.
func TestEveryPageOnPhone(t *testing.T) {
	p := startPortal(t)
	b := startBrowser(t)
	p.register(t, "Ada Admin", "ada@example.org", "analytical-engine-1843", account.RoleAdmin, account.RoleBoard, account.RoleMember)
	p.register(t, "Bea Board", "bea@example.org", "analytical-engine-1843", account.RoleBoard)
	seedPages(t, p)

	for _, lang := range []string{"de", "en"} {
		for _, who := range []struct{ email, password string }{
			{"ada@example.org", "analytical-engine-1843"},
			{"max@example.org", "a-member-password-1"},
			{"paula@example.org", "an-applicant-password-1"},
			{"signed-out", ""}, // the pages anyone reaches from the login page
		} {
			t.Run(lang+"/"+who.email, func(t *testing.T) {
				tab := b.newTabWithin(t, p.url, 8*tabTimeout)
				run(t, tab.ctx, chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile))
				tab.speak(lang)
				start := "/login"
				if who.password != "" {
					checkPage(t, tab, lang, "/login")
					tab.logIn(who.email, who.password)
					start = "/"
				}
				seen := map[string]bool{}
				queue := []string{start}
				for len(queue) > 0 && len(seen) < 150 {
					path := queue[0]
					queue = queue[1:]
					if seen[path] {
						continue
					}
					seen[path] = true
					for _, link := range checkPage(t, tab, lang, path) {
						if !seen[link] {
							queue = append(queue, link)
						}
					}
				}
				pages := make([]string, 0, len(seen))
				for path := range seen {
					pages = append(pages, path)
				}
				sort.Strings(pages)
				t.Logf("%d pages checked: %s", len(pages), strings.Join(pages, " "))
				if len(pages) < 4 {
					t.Errorf("the crawl found only %d pages", len(pages))
				}
			})
		}
	}
}

// seedPages gives the crawl deeper pages, through the domain services
// behind the board's pages: Max an admitted, paid member, Paula an
// applicant, a proposal of Max's, and an assembly with its agenda sent out.
func seedPages(t *testing.T, p *portal) {
	t.Helper()
	ctx := context.Background()
	clock := models.SystemClock{}
	co := openCoop(t, &web.Config{Database: filepath.Join(p.dataDir, "allmende.db")}, clock)
	board := boardActors(t, p, "ada@example.org", "bea@example.org")
	max := co.admitPaid(t, p, clock, board, "Max Member", "max@example.org", "a-member-password-1", 2)
	u, err := p.srv.Accounts.Register(ctx, models.SystemActor("e2e"),
		account.RegisterInput{Email: "paula@example.org", Name: "Paula Applicant", Password: "an-applicant-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.members.Apply(ctx, models.Actor{UserID: u.ID, Email: u.Email}, u.ID, membership.ApplicationInput{
		PersonKind: membership.PersonNatural, LegalName: "Paula Applicant", Street: "Hauptstr. 1", PostalCode: "10115", City: "Berlin",
		Country: "DE", Shares: 1, AcceptBylaws: true, BylawsVersion: co.current(t).BylawsVersion, AcknowledgeNoticePeriod: true,
	}); err != nil {
		t.Fatal(err)
	}
	gov := governance.NewGovernance(co.db, co.queue, co.rules, clock)
	if _, err := gov.Submit(ctx, models.Actor{UserID: max.id, Email: max.email}, models.Viewer{UserID: max.id}, governance.ProposalInput{
		Title: "More disk", Reasoning: "Backups need room.", Kind: "parameters",
		Parameters: map[string]string{"entitlement_disk_gib": "40"}, EffectiveFrom: time.Now()}); err != nil {
		t.Fatal(err)
	}
	bv := models.Viewer{UserID: board[0].UserID}
	start := time.Now().Add(30 * 24 * time.Hour)
	a, err := gov.CreateAssembly(ctx, board[0], bv, governance.AssemblyInput{Title: "Annual assembly", Form: governance.FormVirtual,
		VotingStart: start, VotingEnd: start.Add(7 * 24 * time.Hour), AccessDetails: "https://meet.example.org/annual"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gov.AddItem(ctx, board[0], bv, a.ID, governance.ItemInput{Title: "Approve the annual accounts", Kind: governance.ItemOrdinary}); err != nil {
		t.Fatal(err)
	}
	if err := gov.SendInvitations(ctx, board[0], bv, a.ID); err != nil {
		t.Fatal(err)
	}
}

// speak makes the tab's browser ask for pages in lang, as a browser set
// to that language does (Accept-Language).
func (tb *tab) speak(lang string) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		tb.t.Fatal(err)
	}
}

// axeViolation is what the test reports of one axe-core finding.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// checkPage opens path, checks its language, width and accessibility, and
// returns the page's links to other pages of the portal.
func checkPage(t *testing.T, tab *tab, lang, path string) []string {
	t.Helper()
	tab.open(path)
	if got := run(t, tab.ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
		t.Errorf("%s is in %q in a browser asking for %q", path, got, lang)
	}
	width := run(t, tab.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if width > phoneWidth {
		wide := run(t, tab.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("body *"))
			.filter(e => {
				// Wider than the screen, and not clipped or scrolled by a box around it.
				if (e.getBoundingClientRect().right <= window.innerWidth + 1) return false;
				for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
					if (getComputedStyle(a).overflowX !== "visible") return false;
				}
				return true;
			})
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).replace(/ /g, ".") : "") + " " + JSON.stringify(e.textContent.trim().slice(0, 40)))`))
		t.Errorf("%s scrolls sideways on a %d px phone: %d px wide (%s)", path, phoneWidth, width, strings.Join(wide, ", "))
	}
	// The folded navigation is one line: the brand and the menu button.
	if oneLine := run(t, tab.ctx, chromedp.Evaluate[bool](`(() => {
		const brand = document.querySelector("nav .brand"), menu = document.querySelector("nav .nav-menu > summary");
		if (!menu) return !document.querySelector("nav a[href='/account']"); // signed out: two links
		const a = brand.getBoundingClientRect(), b = menu.getBoundingClientRect();
		return b.top < a.bottom && a.top < b.bottom && b.height > 0;
	})()`)); !oneLine {
		t.Errorf("%s: the folded navigation takes more than one line on a %d px phone", path, phoneWidth)
	}
	run(t, tab.ctx, chromedp.Evaluate[chromedp.Void](axeSource))
	raw := run(t, tab.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("axe on %s: %v", path, err)
	}
	for _, v := range violations {
		t.Errorf("%s: axe %s (%s): %s at %s", path, v.ID, v.Impact, v.Help, strings.Join(v.Targets, "; "))
	}
	hrefs := run(t, tab.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a[href^='/']")).map(a => a.getAttribute("href"))`))
	var links []string
	for _, h := range hrefs {
		u, err := url.Parse(h)
		if err != nil || !crawlable(u.Path) {
			continue
		}
		links = append(links, u.Path)
	}
	return links
}

// crawlable leaves out what is not a page: assets, downloads, the raw
// mail files, and the console's socket.
func crawlable(path string) bool {
	for _, skip := range []string{"/static/", "/api/", "/metrics", "/healthz", "/readyz"} {
		if strings.HasPrefix(path, skip) {
			return false
		}
	}
	for _, suffix := range []string{".csv", ".json", ".eml", ".md", ".txt", "/ws", "/download", "/export"} {
		if strings.HasSuffix(path, suffix) {
			return false
		}
	}
	return path != "" && path != http.MethodPost
}
