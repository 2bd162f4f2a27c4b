package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/account"
)

// fakeConsole is a serial console: the test writes the guest's output to
// guest, and reads what the browser typed from typed.
type fakeConsole struct {
	out    *io.PipeReader
	guest  *io.PipeWriter
	typed  chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakeConsole() *fakeConsole {
	r, w := io.Pipe()
	return &fakeConsole{out: r, guest: w, typed: make(chan []byte, 16), closed: make(chan struct{})}
}

func (f *fakeConsole) Read(p []byte) (int, error) { return f.out.Read(p) }

func (f *fakeConsole) Write(p []byte) (int, error) {
	f.typed <- bytes.Clone(p)
	return len(p), nil
}

func (f *fakeConsole) Close() error {
	f.once.Do(func() {
		close(f.closed)
		f.out.Close()
	})
	return nil
}

func (f *fakeConsole) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("console not closed")
	}
}

type fakeOpener struct {
	con    io.ReadWriteCloser
	err    error
	viewer models.Viewer
	vmID   string
}

func (o *fakeOpener) SendCtrlAltDel(context.Context, models.Viewer, string) error { return o.err }

func (o *fakeOpener) OpenConsole(_ context.Context, v models.Viewer, vmID string) (io.ReadWriteCloser, error) {
	o.viewer, o.vmID = v, vmID
	return o.con, o.err
}

// consoleServer serves ConsoleSocket for a signed-in member u1.
func consoleServer(t *testing.T, o *fakeOpener) string {
	t.Helper()
	h := &Handler{Console: o, Log: slog.New(slog.DiscardHandler),
		Sessions: NewSessions(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))}
	e := echo.New()
	e.HTTPErrorHandler = h.ErrorHandler
	signedIn := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(ctxUser, &account.User{ID: "u1"})
			return next(c)
		}
	}
	e.GET("/vms/:id/console/ws", h.ConsoleSocket, signedIn)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/vms/vm1/console/ws"
}

func TestConsoleBridgesBothWays(t *testing.T) {
	con := newFakeConsole()
	o := &fakeOpener{con: con}
	url := consoleServer(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if o.viewer.UserID != "u1" || o.vmID != "vm1" {
		t.Errorf("opened as %+v for %q", o.viewer, o.vmID)
	}

	// Text and binary messages are typed into the guest as they are.
	for _, m := range []struct {
		typ  websocket.MessageType
		data string
	}{{websocket.MessageText, "ls -l\r"}, {websocket.MessageBinary, "\x03"}} {
		if err := ws.Write(ctx, m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-con.typed:
			if string(got) != m.data {
				t.Errorf("typed %q, want %q", got, m.data)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q never reached the console", m.data)
		}
	}

	// What the guest writes arrives as binary messages.
	go con.guest.Write([]byte("login: "))
	typ, data, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(data) != "login: " {
		t.Fatalf("read %v %q %v", typ, data, err)
	}

	// Closing the socket detaches from the console.
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	con.waitClosed(t)
}

func TestConsoleEndClosesSocket(t *testing.T) {
	con := newFakeConsole()
	url := consoleServer(t, &fakeOpener{con: con})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	con.guest.Close() // the guest stopped: reads end with EOF
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("read after the console ended: %v", err)
	}
	con.waitClosed(t)
}

// Refusals come before the upgrade, as plain HTTP errors; a page from
// another site may not open a console with the member's cookie.
func TestConsoleRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		origin string
		want   int
	}{
		{"another member's VM", models.NotFoundError("virtual machine"), "", http.StatusNotFound},
		{"not running", models.Conflict("The console is available while the VM is running."), "", http.StatusConflict},
		{"host unreachable", errors.New("dial unix: no such file"), "", http.StatusBadGateway},
		{"foreign origin", nil, "https://evil.example", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			con := newFakeConsole()
			o := &fakeOpener{err: tc.err}
			if tc.err == nil {
				o.con = con
			}
			url := consoleServer(t, o)
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
			if err == nil {
				ws.CloseNow()
				t.Fatal("upgraded")
			}
			if resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("response %v, want %d", resp, tc.want)
			}
			if tc.err == nil {
				con.waitClosed(t) // opened, then refused: not left open
			}
		})
	}
}
