package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"allmende/jobs"
	"allmende/models"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"allmende/views"
	"allmende/web"
)

// startClockedPortal runs a second portal, without libvirt, whose domain
// reads the time from clock, so a test can let a notice period pass.
func startClockedPortal(t *testing.T, clock models.Clock) (*portal, *web.Config) {
	t.Helper()
	dir, err := os.MkdirTemp("", "alm-m")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"),
		Libvirt: "none", Workers: 2, Clock: clock}
	srv, err := web.New(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("start portal: %v", err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		srv.Shutdown(ctx)
		t.Fatalf("start portal: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &portal{srv: srv, url: "http://" + addr, dataDir: dir}, cfg
}

// coop opens the portal's database beside the server, as the command line
// does: to read the rules, file applications and enqueue the daily job.
type coop struct {
	db      *models.DB
	rules   *rulebook.Rules
	members *membership.Memberships
	queue   *jobs.Client
}

func openCoop(t *testing.T, cfg *web.Config, clock models.Clock) *coop {
	t.Helper()
	db, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := jobs.NewInsertOnly(db, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	rules := rulebook.NewRules(db, clock)
	return &coop{db: db, rules: rules, members: membership.NewMemberships(db, q, rules, clock), queue: q}
}

func (c *coop) current(t *testing.T) rulebook.RuleParams {
	t.Helper()
	p, err := c.rules.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sibling opens another tab in tb's browser context: same cookies, so the
// same signed-in account, as when a user opens a second tab.
func (tb *tab) sibling(t *testing.T) *tab {
	t.Helper()
	console := &consoleLog{}
	ctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithListener(console.record))
	s := &tab{t: t, ctx: ctx, base: tb.base, console: console}
	t.Cleanup(cancel)
	t.Cleanup(func() {
		_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("0"))
		for _, m := range console.violations() {
			t.Errorf("CSP violation: %s", m)
		}
		for _, m := range console.exceptions() {
			t.Errorf("uncaught script error: %s", m)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return s
}

// retype replaces an input's value by typing, as a user who selects the
// field's content and types over it.
func (tb *tab) retype(sel, value string) {
	tb.t.Helper()
	// Not chromedp.SetValue(sel, ""): it reports a failure for the empty
	// value, though it cleared the field.
	clear := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
	if err := chromedp.Do(tb.ctx, chromedp.WaitReady(chromedp.CSS(sel)), clear, chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
		tb.t.Fatalf("type into %s: %v", sel, err)
	}
}

// setChecked clicks a checkbox until it has the wanted state.
func (tb *tab) setChecked(sel string, want bool) {
	tb.t.Helper()
	if tb.checked(sel) != want {
		if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			tb.t.Fatalf("click %s: %v", sel, err)
		}
	}
	if tb.checked(sel) != want {
		tb.t.Fatalf("%s: could not set checked=%v", sel, want)
	}
}

func (tb *tab) checked(sel string) bool {
	tb.t.Helper()
	return run(tb.t, tb.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q)?.checked === true`, sel)))
}

// dialogs accepts every JavaScript dialog of the tab (data-confirm asks
// with window.confirm) and returns what they said so far.
func (tb *tab) acceptDialogs() func() []string {
	var mu sync.Mutex
	var seen []string
	opening := chromedp.Events(tb.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, ev.Message)
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// wantFieldError checks that the input shows msg in the error element errID
// right next to it (after the input, or after a checkbox's label) and that
// the input points at it for screen readers.
func (tb *tab) wantFieldError(inputSel, errID, msg string) {
	tb.t.Helper()
	tb.wantText("#"+errID, msg)
	next := run(tb.t, tb.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) return "";
		if (el.nextElementSibling) return el.nextElementSibling.id;
		return el.closest("label")?.nextElementSibling?.id ?? "";
	})()`, inputSel)))
	if next != errID {
		tb.t.Errorf("element next to %s is %q, want the error #%s", inputSel, next, errID)
	}
	attrs := run(tb.t, tb.ctx, chromedp.Attributes(chromedp.CSS(inputSel)))
	if attrs["aria-invalid"] != "true" || attrs["aria-describedby"] != errID {
		tb.t.Errorf("%s attributes %v: want aria-invalid=true, aria-describedby=%s", inputSel, attrs, errID)
	}
}

// texts returns the trimmed text of every element matching sel.
func (tb *tab) texts(sel string) []string {
	tb.t.Helper()
	return run(tb.t, tb.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
		`[...document.querySelectorAll(%q)].map(e => e.textContent.trim())`, sel)))
}

// fact is the text of the <dd> after the <dt> labelled dt.
func (tb *tab) fact(dt string) string {
	tb.t.Helper()
	return run(tb.t, tb.ctx, chromedp.Evaluate[string](fmt.Sprintf(`[...document.querySelectorAll("main dl dt")]
		.find(e => e.textContent.trim() === %q)?.nextElementSibling?.textContent.trim() ?? "(no such fact)"`, dt)))
}

// rows returns the cells of a table's body rows.
func (tb *tab) rows(tableSel string) [][]string {
	tb.t.Helper()
	return run(tb.t, tb.ctx, chromedp.Evaluate[[][]string](fmt.Sprintf(
		`[...document.querySelectorAll(%q)].map(tr => [...tr.cells].map(td => td.textContent.trim().replace(/\s+/g, " ")))`,
		tableSel+" tbody tr")))
}

// entitlementText is the entitlement as the membership page prints it.
func entitlementText(e rulebook.Entitlement) string {
	cpus := fmt.Sprintf("%d vCPUs", e.VCPUs)
	if e.VCPUs == 1 {
		cpus = "1 vCPU"
	}
	return fmt.Sprintf("%s, %s RAM and %d GiB disk", cpus, views.MiB(e.MemoryMiB), e.DiskGiB)
}

// addMonthsClamped adds months to a date as the law counts periods: from
// 31 December six months end on 30 June.
func addMonthsClamped(d time.Time, n int) time.Time {
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d.Day(), last), 0, 0, 0, 0, time.UTC)
}

// waitForOutboxMail waits until the outbox holds a mail to `to` whose text
// contains subject, and returns it.
func waitForOutboxMail(t *testing.T, dataDir, to, subject string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), to) && strings.Contains(string(b), subject) {
				return string(b)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no mail to %s with %q arrived in the outbox", to, subject)
	return ""
}

// navTo follows a link of the navigation as a person would, opening the
// dropdown it sits in first (the board's and admins' pages are grouped).
func (tb *tab) navTo(href string) {
	tb.t.Helper()
	sel := fmt.Sprintf(`nav a[href=%q]`, href)
	run(tb.t, tb.ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`for (let d = document.querySelector(%q)?.closest("details"); d; d = d.parentElement.closest("details")) d.open = true`, sel)))
	tb.submit(sel, http.StatusOK)
}
