package mail

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOutboxWriteListRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := NewOutbox(dir, "Allmende <portal@allmende.test>")
	ctx := context.Background()

	if list, err := o.List(); err != nil || len(list) != 0 {
		t.Fatalf("List before the first mail = %v, %v; want empty", list, err)
	}
	if err := o.Send(ctx, Message{To: "ada@example.org", Subject: "Aufnahme bestätigt", Body: "Willkommen!\n", ID: "admitted:1"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, Message{To: "bob@example.org", Subject: "Abgelehnt", Body: "Leider nein.\n", ID: "rejected:2"}); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("outbox directory mode %o, want 700", perm)
	}

	list, err := o.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("List = %d entries, want 2", len(list))
	}
	// Newest first.
	if list[0].To != "<bob@example.org>" || list[0].Subject != "Abgelehnt" {
		t.Errorf("first entry %+v, want the mail to bob", list[0])
	}
	if list[1].Subject != "Aufnahme bestätigt" {
		t.Errorf("second entry subject %q", list[1].Subject)
	}
	for _, e := range list {
		if e.Size == 0 || time.Since(e.Date) > time.Minute || !strings.HasSuffix(e.File, ".eml") {
			t.Errorf("entry %+v: want size, a recent date and an .eml name", e)
		}
	}

	data, err := o.Read(list[1].File)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, data)
	if p.subject != "Aufnahme bestätigt" || p.body != "Willkommen!\r\n" {
		t.Errorf("read back subject %q body %q", p.subject, p.body)
	}
	if p.header.Get("From") != `"Allmende" <portal@allmende.test>` {
		t.Errorf("From %q", p.header.Get("From"))
	}
}

func TestOutboxIdempotent(t *testing.T) {
	o := NewOutbox(t.TempDir(), "portal@allmende.test")
	m := Message{To: "ada@example.org", Subject: "Kündigung bestätigt", Body: "b", ID: "notice-confirmed:7"}
	for range 3 {
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	list, err := o.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("three sends of one ID left %d files, want 1", len(list))
	}

	// IDs that differ only in characters the file name drops stay apart.
	if err := o.Send(context.Background(), Message{To: "ada@example.org", Subject: "s", Body: "b", ID: "notice-confirmed/7"}); err != nil {
		t.Fatal(err)
	}
	if list, _ := o.List(); len(list) != 2 {
		t.Fatalf("a different ID was deduplicated: %d files, want 2", len(list))
	}
}

func TestOutboxReadRejectsOtherNames(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "outbox")
	o := NewOutbox(dir, "portal@allmende.test")
	if err := o.Send(context.Background(), Message{To: "ada@example.org", Subject: "s", Body: "b", ID: "1"}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(parent, "secret.eml")
	if err := os.WriteFile(secret, []byte("session keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symlink with a valid-looking name that points out of the outbox.
	link := "20000101T000000.000000000Z_link.eml"
	if err := os.Symlink(secret, filepath.Join(dir, link)); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{
		"../secret.eml", "..", "", "/etc/passwd", secret,
		"20000101T000000.000000000Z_x.eml/../../secret.eml",
		".tmp-123", link,
	} {
		if _, err := o.Read(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read(%q) = %v, want fs.ErrNotExist", name, err)
		}
	}
	list, err := o.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("List shows %d entries, want 1 (no symlink)", len(list))
	}
}

func TestOutboxBadFromIsNotPermanent(t *testing.T) {
	o := NewOutbox(t.TempDir(), "not an address")
	err := o.Send(context.Background(), Message{To: "ada@example.org", Subject: "s", Body: "b", ID: "1"})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send with a bad From = %v; want an error that is retried", err)
	}
}
