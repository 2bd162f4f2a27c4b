package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// ShowConsole is the page that runs xterm.js against the VM's serial
// console; static/console.js opens the WebSocket.
func (h *Handler) ShowConsole(c echo.Context) error {
	d, err := h.VMs.Get(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	if d.State != compute.VMRunning {
		return h.flashTo(c, "error", "The console is available while the virtual machine is running.", "/vms/"+d.ID)
	}
	p, err := h.page(c, i18n.T(c.Request().Context(), "Console of %s", d.Name), "vms")
	if err != nil {
		return err
	}
	// xterm.js sizes and colours its rows with <style> elements it creates
	// at run time, which the site's style-src 'self' blocks. This page alone
	// allows inline styles; scripts stay 'self' only.
	hdr := c.Response().Header()
	if csp := hdr.Get("Content-Security-Policy"); csp != "" {
		hdr.Set("Content-Security-Policy", strings.Replace(csp, "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1))
	}
	return render(c, http.StatusOK, views.ConsolePage(p, d))
}

// SendCtrlAltDel presses Ctrl-Alt-Del on the VM's keyboard and returns to
// its console.
func (h *Handler) SendCtrlAltDel(c echo.Context) error {
	ctx := c.Request().Context()
	back := "/vms/" + c.Param("id") + "/console"
	err := h.Console.SendCtrlAltDel(ctx, viewer(CurrentUser(c)), c.Param("id"))
	if _, ok := models.AsError(err); ok {
		return h.refused(c, err, back)
	}
	if err != nil {
		h.Log.Warn("ctrl-alt-del", "vm", c.Param("id"), "err", err)
		return h.flashTo(c, "error", i18n.T(ctx, "Ctrl-Alt-Del could not be sent; please try again."), back)
	}
	return h.flashTo(c, "success", i18n.T(ctx, "Ctrl-Alt-Del was sent."), back)
}

// consoleReadLimit bounds one message from the browser; xterm.js sends a
// paste as one message, and the library's default of 32 KiB cuts long ones.
const consoleReadLimit = 1 << 20

// consolePing keeps an idle console alive through proxies that close
// quiet connections, and notices a browser that vanished without closing.
const consolePing = 30 * time.Second

// ConsoleSocket bridges a WebSocket to the VM's serial console. The console
// is opened before the upgrade, so that another member's VM is a plain 404
// and a VM that is not running a 409, never an upgraded connection. The
// Origin must be this host (coder/websocket's default), so that another
// site cannot open a console with the member's cookie.
func (h *Handler) ConsoleSocket(c echo.Context) error {
	con, err := h.Console.OpenConsole(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		if _, ok := models.AsError(err); ok {
			return err
		}
		return &models.Error{Code: http.StatusBadGateway, Safe: "The console could not be opened; please try again.", Err: err}
	}
	defer con.Close()
	// The server's read timeout would otherwise end the session a minute
	// after it began: the deadline stays on the connection after the
	// hijack. Not every writer supports it (tests); then there is none.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Time{})
	ws, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // Accept has answered (403 for a foreign Origin, 426 without Upgrade)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(consoleReadLimit)
	bridgeConsole(ws, con)
	return nil
}

// bridgeConsole copies the console's output to the socket as binary
// messages and the browser's messages (text or binary) to the console,
// until either side ends; then it ends the other.
func bridgeConsole(ws *websocket.Conn, con io.ReadWriteCloser) {
	// Not the request's context: after the hijack the server no longer
	// watches the connection, so the socket's own errors tell when it ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guestDone := make(chan struct{})
	browserDone := make(chan struct{})
	go func() {
		defer close(guestDone)
		buf := make([]byte, 32<<10)
		for {
			n, err := con.Read(buf)
			if n > 0 {
				if werr := ws.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(browserDone)
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if _, err := con.Write(msg); err != nil {
				return
			}
		}
	}()
	ping := time.NewTicker(consolePing)
	defer ping.Stop()
	for {
		select {
		case <-guestDone:
			// The guest stopped or another session took the console over:
			// say goodbye properly, then detach.
			_ = ws.Close(websocket.StatusNormalClosure, "console closed")
			_ = con.Close()
			return
		case <-browserDone:
			_ = con.Close()
			return
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, consolePing)
			err := ws.Ping(pctx)
			pcancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				_ = con.Close()
				return
			}
		}
	}
}
