package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"allmende/e2e/crash"
	"allmende/hypervisor/hvtest"
	"allmende/models/compute"
)

// A member's VM made through the portal from a direct-kernel-boot image
// boots a real guest, whose serial console the member reaches through the
// portal's WebSocket: the guest's greeting comes out, and a line typed in
// comes back from the guest.
func TestGuestConsoleThroughPortal(t *testing.T) {
	kernel, initrd := hvtest.Guest(t)
	f, _, base := vmFixture(t)
	ctx := t.Context()
	img, err := f.AddGuestImage(ctx, "guest", kernel, initrd, hvtest.GuestCmdline)
	if err != nil {
		t.Fatal(err)
	}

	c := newClient(t, base)
	wantStatus(t, c.login(f.Member.Email, crash.Password), http.StatusSeeOther)
	resp, body := c.submit("/vms/new", "/vms", url.Values{"name": {"guest-1"}, "plan_id": {f.Small.ID}, "image_id": {img.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: status %d\n%s", resp.StatusCode, body)
	}
	vmID := strings.TrimPrefix(resp.Header.Get("Location"), "/vms/")

	// Followed as the VM's page does: its status partial.
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, body = c.get("/vms/" + vmID + "/status")
		if strings.Contains(body, `data-state="running"`) {
			break
		}
		if strings.Contains(body, `data-state="error"`) || time.Now().After(deadline) {
			vm, _ := f.VMs.Get(ctx, f.AdminViewer, vmID)
			t.Fatalf("VM not running: %+v\n%s", vm, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	dom := (&compute.VM{ID: vmID}).DomainName()
	xml := virsh(t, f.Host.URI, "dumpxml", dom)
	for _, want := range []string{"<kernel>", "guest-vmlinuz</kernel>", "guest-initrd</initrd>", "<cmdline>" + hvtest.GuestCmdline + "</cmdline>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("domain XML lacks %q:\n%s", want, xml)
		}
	}

	wsCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wsCtx, "ws"+strings.TrimPrefix(base, "http")+"/vms/"+vmID+"/console/ws",
		&websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	out := &consoleReader{ws: ws}
	if err := out.waitFor(wsCtx, hvtest.GuestMarker); err != nil {
		t.Fatalf("no %s on the console: %v; got %q", hvtest.GuestMarker, err, out.buf.String())
	}
	// As xterm.js sends a typed line: Enter is a carriage return.
	if err := ws.Write(wsCtx, websocket.MessageBinary, []byte("hello portal\r")); err != nil {
		t.Fatal(err)
	}
	if err := out.waitFor(wsCtx, hvtest.GuestEchoPrefix+"hello portal"); err != nil {
		t.Fatalf("no echo on the console: %v; got %q", err, out.buf.String())
	}
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// consoleReader collects what the console WebSocket sends.
type consoleReader struct {
	ws  *websocket.Conn
	buf bytes.Buffer
}

// waitFor reads until s has arrived since the last call found what it
// waited for.
func (r *consoleReader) waitFor(ctx context.Context, s string) error {
	for {
		if i := bytes.Index(r.buf.Bytes(), []byte(s)); i >= 0 {
			r.buf.Next(i + len(s))
			return nil
		}
		_, msg, err := r.ws.Read(ctx)
		if err != nil {
			return err
		}
		r.buf.Write(msg)
	}
}
