package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"allmende/config"
	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/models"
	"allmende/models/compute"
)

// allmende setup starter needs a host, queues the build once and says so,
// and changes nothing when run again.
func TestSetupStarterCLI(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out bytes.Buffer
	err := run([]string{"setup", "starter", "--data", dir}, strings.NewReader(""), &out, log)
	if err == nil || !strings.Contains(err.Error(), "no host yet") {
		t.Fatalf("without a host: %v", err)
	}

	ctx := context.Background()
	db, err := config.OpenDatabase(ctx, &config.Config{DataDir: dir, Database: filepath.Join(dir, "allmende.db")}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := jobs.NewInsertOnly(db, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compute.NewHosts(db, q, hypervisor.ValidateURI).Add(ctx, models.SystemActor("test"),
		compute.HostInput{Name: "local", URI: "qemu+unix:///system?socket=" + filepath.Join(os.TempDir(), "none.sock")}); err != nil {
		t.Fatal(err)
	}

	for i, want := range []string{"are queued", "are being made already"} {
		out.Reset()
		if err := run([]string{"setup", "starter", "--data", dir, "--host", "local"}, strings.NewReader(""), &out, log); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("run %d: %q lacks %q", i+1, out.String(), want)
		}
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'starter.build'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d starter.build jobs, want 1", n)
	}
}
