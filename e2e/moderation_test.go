package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"allmende/e2e/crash"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/membership"
	"allmende/web"
)

// TestModerationInBrowser is the moderation loop in Chromium against a
// portal with its own libvirtd: an abuse desk reports an address without
// an account, the report opens a case, a moderator throttles and then
// suspends the VM (the case log follows the jobs without a reload, and
// libvirt shows the limits and the pause), the member appeals, a member of
// the elected appeals committee overturns the suspension, and the VM runs.
func TestModerationInBrowser(t *testing.T) {
	for _, bin := range []string{chromiumPath, "virsh", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (%v); run: go tool task setup", bin, err)
		}
	}
	p := startVMPortal(t)
	ctx := t.Context()
	f, err := crash.Setup(ctx, filepath.Join(p.dataDir, "allmende.db"), p.dataDir, quietLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	const pw = "correct horse battery"
	p.register(t, "Mo Derator", "mo@example.org", pw, account.RoleModerator)
	p.register(t, "Bea Board", "bea@example.org", pw, account.RoleBoard)
	p.register(t, "Ben Board", "ben@example.org", pw, account.RoleBoard)
	board := boardActors(t, p, "bea@example.org", "ben@example.org")
	clock := models.SystemClock{}
	c := openCoop(t, &web.Config{Database: filepath.Join(p.dataDir, "allmende.db"), DataDir: p.dataDir}, clock)
	judy := c.admitPaid(t, p, clock, board, "Judy Appeal", "judy@example.org", pw, 1)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if _, err := c.members.Organs().Appoint(ctx, board[0], membership.AppointInput{Organ: membership.OrganAppealsCommittee,
		UserID: judy.id, TermStart: today, TermEnd: today.AddDate(2, 0, 0), Source: membership.SourceElection,
		Body: membership.BodyGeneralAssembly, Reference: "minutes of the general assembly of 2026-04-30, item 5"}); err != nil {
		t.Fatal(err)
	}

	vm, task, err := f.CreateVM(ctx, "shady", f.Small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WaitTask(ctx, task.ID, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	// The test host has no network for guests, so the VM took no address;
	// record the one it would have held, as compute does on creation.
	const ip = "198.51.100.23"
	if err := f.DB.Gorm.Exec("INSERT INTO ip_assignments (id, network_id, address, vm_id, owner_id, assigned_at) VALUES (?, 'test', ?, ?, ?, ?)",
		uuid.NewString(), ip, vm.ID, f.Member.UserID, time.Now().UTC().Add(-time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	uri, dom := f.Host.URI, vm.DomainName()
	domState := func() string { out, _ := crash.Virsh(uri, "domstate", dom); return strings.TrimSpace(out) }

	b := startBrowser(t)
	// The abuse desk: no account.
	desk := b.newTabWithin(t, p.url, vmTabTimeout)
	desk.open("/abuse")
	desk.fill("#f-ip", ip)
	desk.fill("#f-seen_at", time.Now().UTC().Add(-10*time.Minute).Format("2006-01-02T15:04"))
	run(t, desk.ctx, chromedp.SetValue(chromedp.CSS("#f-category"), "attack"))
	desk.fill("#f-evidence", "SYN flood from 198.51.100.23 at 10:02 UTC, 40k pps")
	desk.submit(`form[action="/abuse"] button[type=submit]`, http.StatusOK)
	desk.wantText("#report-status", "The report has been received and waits for a moderator.")
	if strings.Contains(desk.html("main"), "shady") || strings.Contains(desk.html("main"), f.Member.Email) {
		t.Error("the reporter learns the VM or the member")
	}
	statusPath := strings.TrimPrefix(run(t, desk.ctx, chromedp.Location()), p.url)

	// The moderator: the case, a throttle, then a suspension.
	mo := b.newTabWithin(t, p.url, vmTabTimeout)
	mo.logIn("mo@example.org", pw)
	mo.submit(`nav a[href="/moderation"]`, http.StatusOK)
	mo.submit(`table.cases tbody tr:first-child a`, http.StatusOK)
	mo.wantText("main h2:first-of-type", "Reports")
	casePath := strings.TrimPrefix(run(t, mo.ctx, chromedp.Location()), p.url)
	run(t, mo.ctx, chromedp.SetValue(chromedp.CSS("#f-kind"), "throttle"))
	mo.fill("#f-reason", "Your VM takes part in a SYN flood.")
	mo.submit(`form[action$="/sanction"] button[type=submit]`, http.StatusOK)
	mo.wantText("main .flash.success", "Applied: step 2 throttle.")
	// The case log follows the job without a reload.
	mo.waitText("#case-log", "throttle set on shady")
	if io, _ := crash.Virsh(uri, "blkdeviotune", dom, "vda"); !strings.Contains(io, "write_bytes_sec: 1048576") {
		t.Fatalf("blkdeviotune:\n%s", io)
	}
	run(t, mo.ctx, chromedp.SetValue(chromedp.CSS("#f-kind"), "suspend_vm"))
	mo.fill("#f-reason", "The flood goes on.")
	mo.submit(`form[action$="/sanction"] button[type=submit]`, http.StatusOK)
	mo.wantText("main .flash.success", "Applied: step 3 suspend_vm.")
	mo.waitText("#case-log", "shady paused and locked")
	if st := domState(); st != "paused" {
		t.Fatalf("domain %s after the suspension", st)
	}
	// The abuse desk sees that action was taken.
	desk.open(statusPath)
	desk.wantText("#report-status", "The moderators have acted on this report.")

	// The member appeals the suspension.
	member := b.newTabWithin(t, p.url, vmTabTimeout)
	member.logIn(f.Member.Email, crash.Password)
	member.submit(`nav a[href="/sanctions"]`, http.StatusOK)
	member.fill(`article[data-kind="suspend_vm"] textarea[name="statement"]`, "A compromised package; I rebuilt the VM from scratch.")
	member.submit(`article[data-kind="suspend_vm"] form button[type=submit]`, http.StatusOK)
	member.wantText("main .flash.success", "Your appeal has been filed; the elected appeals committee decides it.")

	// The moderator may not decide appeals.
	mo.openStatus("/appeals", http.StatusForbidden)

	// A member of the elected appeals committee overturns it.
	judge := b.newTabWithin(t, p.url, vmTabTimeout)
	judge.logIn("judy@example.org", pw)
	judge.submit(`nav a[href="/appeals"]`, http.StatusOK)
	run(t, judge.ctx, chromedp.SetValue(chromedp.CSS(`article[data-state="pending"] select[name="outcome"]`), "overturned"))
	judge.fill(`article[data-state="pending"] textarea[name="reason"]`, "Cleaned up at once; a suspension is no longer needed.")
	judge.submit(`article[data-state="pending"] form button[type=submit]`, http.StatusOK)
	judge.wantText("main .flash.success", "Appeal decided.")

	// The VM runs again; the member's page says overturned.
	deadline := time.Now().Add(60 * time.Second)
	for domState() != "running" {
		if time.Now().After(deadline) {
			t.Fatalf("domain %s after the overturn", domState())
		}
		time.Sleep(200 * time.Millisecond)
	}
	member.open("/sanctions")
	if got := run(t, member.ctx, chromedp.AttributeValue(chromedp.CSS(`article[data-kind="suspend_vm"]`), "data-state")).Value; got != "overturned" {
		t.Errorf("the member's sanction is %q, want overturned", got)
	}
	mo.open(casePath)
	mo.waitText("#case-log", "no longer locked; resumed")
	mo.waitText("#case-log", "overturned on appeal")
}

// waitText waits until sel's text contains want, as htmx swaps it in.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	js := fmt.Sprintf(`(document.querySelector(%q)||{textContent:""}).textContent.includes(%q)`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		tb.t.Fatalf("%s never showed %q: %v\n%s", sel, want, err, tb.html(sel))
	}
}
