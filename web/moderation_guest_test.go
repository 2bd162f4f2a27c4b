package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"allmende/e2e/crash"
	"allmende/hypervisor/hvtest"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/modelstest"
	"allmende/models/moderation"
	"allmende/models/rulebook"
	"allmende/web"
)

// A throttle sanction is felt inside the guest: the rate at which a real
// guest writes to its disk (dd with O_DIRECT to /dev/vda from its shell,
// timed by the guest's own clock) falls to about the rulebook's limit
// (1 MiB/s, see TestSanctionsOnRealGuest), clearly below what it wrote
// before.
func TestThrottleSanctionInsideGuest(t *testing.T) {
	const limit = 1 << 20 // bytes per second
	kernel, initrd := hvtest.Guest(t)
	f, _, base := vmFixtureWith(t, func(c *web.Config) { c.LibvirtCPULimits = true })
	ctx := t.Context()
	img, err := f.AddGuestImage(ctx, "guest", kernel, initrd, hvtest.GuestCmdline)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, base)
	wantStatus(t, c.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	resp, body := c.submit("/vms/new", "/vms", url.Values{"name": {"writer"}, "plan_id": {f.Small.ID}, "image_id": {img.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")
	waitState(t, c, vmID, "running")

	wsCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(wsCtx, "ws"+strings.TrimPrefix(base, "http")+"/vms/"+vmID+"/console/ws",
		&websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	out := &consoleReader{ws: ws}
	if err := out.waitFor(wsCtx, hvtest.GuestMarker); err != nil {
		t.Fatalf("no guest: %v", err)
	}
	if err := ws.Write(wsCtx, websocket.MessageBinary, []byte("sh\r")); err != nil {
		t.Fatal(err)
	}
	free := guestDiskWriteRate(t, wsCtx, ws, out)

	mod := moderation.New(f.DB, f.Queue, models.SystemClock{}, nil)
	staff := modelstest.InsertUser(t, f.DB, "Mo", "mo@example.org", account.RoleModerator)
	reporter := modelstest.InsertUser(t, f.DB, "Rita", "rita@example.org", account.RoleMember)
	if _, err := mod.Report(ctx, reporter, moderation.ReportInput{TargetKind: moderation.TargetVM, Target: "writer", Category: "attack", Evidence: "floods the disk"}); err != nil {
		t.Fatal(err)
	}
	rows, err := mod.Cases(ctx, staff, moderation.CaseFilter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("cases %v, %v", rows, err)
	}
	if _, err := mod.Sanction(ctx, staff, rows[0].ID, moderation.SanctionInput{Kind: rulebook.SanctionThrottle, Reason: "flooding"}); err != nil {
		t.Fatal(err)
	}
	caseLogHas(t, mod, staff, rows[0].ID, "throttle set on writer")
	throttled := guestDiskWriteRate(t, wsCtx, ws, out)

	t.Logf("write rate inside the guest: %.2f MiB/s before, %.2f MiB/s under the throttle sanction (limit %.2f MiB/s)",
		free/(1<<20), throttled/(1<<20), float64(limit)/(1<<20))
	if throttled > 2*limit {
		t.Errorf("throttled to %d B/s the guest still writes %.0f B/s", limit, throttled)
	}
	// The sanction also limits the CPU (20 %), which slows dd somewhat;
	// far below the limit means the measurement is off.
	if throttled < limit/10 {
		t.Errorf("throttled to %d B/s the guest writes only %.0f B/s", limit, throttled)
	}
	if free < 2*throttled {
		t.Errorf("before the sanction %.0f B/s is not clearly above %.0f B/s under it", free, throttled)
	}
}

var ddLine = regexp.MustCompile(`DDRESULT (\d+) ([0-9.]+) ([0-9.]+)`)

// guestDiskWriteRate writes 8 MiB to /dev/vda from the guest's shell and
// returns the rate in bytes per second, timed with the guest's
// /proc/uptime (10 ms resolution). The command line, which the tty echoes,
// spells the result's tag with quotes inside, so only the answer matches.
func guestDiskWriteRate(t *testing.T, ctx context.Context, ws *websocket.Conn, out *consoleReader) float64 {
	t.Helper()
	const count, bs = 128, 64 << 10
	cmd := fmt.Sprintf(`a=$(cut -d' ' -f1 /proc/uptime); test -b /dev/vda && dd if=/dev/zero of=/dev/vda bs=%d count=%d oflag=direct 2>/dev/null; r=$?; `+
		`b=$(cut -d' ' -f1 /proc/uptime); echo "DD""RESULT $r $a $b"`+"\r", bs, count)
	if err := ws.Write(ctx, websocket.MessageBinary, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	if err := out.waitFor(ctx, "DDRESULT "); err != nil {
		t.Fatalf("no result from dd in the guest: %v", err)
	}
	for !bytes.Contains(out.buf.Bytes(), []byte("\n")) {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("reading dd's result: %v", err)
		}
		out.buf.Write(msg)
	}
	line, _, _ := bytes.Cut(out.buf.Bytes(), []byte("\n"))
	m := ddLine.FindStringSubmatch("DDRESULT " + string(line))
	if m == nil {
		t.Fatalf("unreadable dd result %q", line)
	}
	if m[1] != "0" {
		t.Fatalf("dd to /dev/vda in the guest failed (exit %s; 1 also when /dev/vda is no block device: no disk driver?)", m[1])
	}
	start, _ := strconv.ParseFloat(m[2], 64)
	end, _ := strconv.ParseFloat(m[3], 64)
	return count * bs / max(end-start, 0.01)
}
