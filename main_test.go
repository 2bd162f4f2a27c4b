package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"allmende/hypervisor"
	"allmende/models"
	"allmende/models/account"
	"allmende/web"
)

// The command line works beside a running server on the same data, and
// honours the same flags.
func TestCLIBesideRunningServer(t *testing.T) {
	dir, err := os.MkdirTemp("", "alm-cli")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "none", Workers: 1}
	srv, err := web.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	// Password generated and printed once when nothing is piped in.
	var out bytes.Buffer
	err = run([]string{"user", "create", "--data", dir, "--email", "Root@Example.org", "--name", "Root", "--role", "admin", "--role", "board"},
		strings.NewReader(""), &out, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "password (shown once): ") {
		t.Errorf("no generated password printed: %q", out.String())
	}
	password := strings.TrimSpace(out.String()[strings.Index(out.String(), "password (shown once): ")+len("password (shown once): "):])

	// The running server sees the account at once, with its roles.
	u, err := srv.Accounts.Authenticate(context.Background(), "192.0.2.1", "root@example.org", password)
	if err != nil {
		t.Fatalf("log in with the generated password: %v", err)
	}
	if !u.Has(account.RoleAdmin) || !u.Has(account.RoleBoard) {
		t.Errorf("roles = %v", u.Roles)
	}

	// ALLMENDE_DATA works like --data; a duplicate is a clear error.
	t.Setenv("ALLMENDE_DATA", dir)
	err = run([]string{"user", "create", "--email", "root@example.org", "--name", "Again"}, strings.NewReader(""), &out, log)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate account: %v", err)
	}
	err = run([]string{"user", "create", "--email", "x@example.org", "--name", "X", "--role", "king"}, strings.NewReader(""), &out, log)
	if err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("unknown role: %v", err)
	}

	out.Reset()
	if err := run([]string{"token", "create", "--email", "root@example.org"}, nil, &out, log); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "alm_") {
		t.Fatalf("token = %q", tok)
	}
	db, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := account.NewTokens(db, account.NewAccounts(db)).Authenticate(context.Background(), tok); err != nil || got.ID != u.ID {
		t.Errorf("token does not authenticate the account: %v", err)
	}

	// user lock ends the sessions the running server knows and refuses the
	// password and the token; user unlock lets the account back in.
	session, err := srv.Accounts.StartSession(context.Background(), u, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"user", "lock", "--email", "root@example.org"}, nil, &out, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "locked root@example.org") {
		t.Errorf("lock said %q", out.String())
	}
	if _, _, err := srv.Accounts.SessionUser(context.Background(), session, "192.0.2.1"); !models.IsNotFound(err) {
		t.Errorf("session of a locked account: %v", err)
	}
	if _, err := srv.Accounts.Authenticate(context.Background(), "192.0.2.1", "root@example.org", password); err == nil {
		t.Error("a locked account logs in")
	}
	// A fresh handle: the one above cached the account for up to 2 s, as
	// another portal instance would.
	db2, err := models.Open(cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := account.NewTokens(db2, account.NewAccounts(db2)).Authenticate(context.Background(), tok); err == nil {
		t.Error("a locked account's token works")
	}
	if err := run([]string{"user", "lock", "--email", "nobody@example.org"}, nil, &out, log); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("lock of an unknown account: %v", err)
	}
	if err := run([]string{"user", "unlock", "--email", "root@example.org"}, nil, &out, log); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Accounts.Authenticate(context.Background(), "192.0.2.1", "root@example.org", password); err != nil {
		t.Errorf("an unlocked account cannot log in: %v", err)
	}
}

// `allmende libvirtd status|stop` report on and stop the private libvirtd
// that a portal started and left running when it shut down.
func TestLibvirtdCommand(t *testing.T) {
	dir, err := os.MkdirTemp("", "alm-lv")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var out bytes.Buffer
	if err := run([]string{"libvirtd", "status", "--data", dir}, nil, &out, log); err == nil || !strings.Contains(out.String(), "not running") {
		t.Errorf("status before any start: err %v, output %q", err, out.String())
	}

	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "auto", Workers: 1}
	srv, err := web.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer hypervisor.StopDaemon(web.LibvirtDir(dir), log) // if the test fails before its own stop
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := run([]string{"libvirtd", "status", "--data", dir}, nil, &out, log); err != nil || !strings.Contains(out.String(), "running, answering") {
		t.Errorf("status after the portal's shutdown: err %v, output %q", err, out.String())
	}
	out.Reset()
	if err := run([]string{"libvirtd", "stop", "--data", dir}, nil, &out, log); err != nil {
		t.Fatalf("stop: %v (%q)", err, out.String())
	}
	if st, err := hypervisor.StatusOf(web.LibvirtDir(dir)); err != nil || st.Running || st.Answering {
		t.Errorf("after stop: %+v %v", st, err)
	}
	// Stopping what is not running is fine: scripts may run it twice.
	if err := run([]string{"libvirtd", "stop", "--data", dir}, nil, &out, log); err != nil {
		t.Errorf("second stop: %v", err)
	}
}
