package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one mail as the test server saw it.
type received struct {
	From string
	To   []string
	Data []byte
	User string // authenticated user, if any
}

// backend records what arrives, and refuses the recipients in reject with
// the given reply code.
type backend struct {
	reject   map[string]int
	user     string // when set, AUTH PLAIN with user/"secret" is offered
	mu       sync.Mutex
	received []received
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

func (b *backend) mails() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.received...)
}

type session struct {
	b   *backend
	cur received
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.b.user || pass != "secret" {
			return smtp.ErrAuthFailed
		}
		s.cur.User = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := s.b.reject[to]; code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "Not now or not at all"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.b.mu.Lock()
	s.b.received = append(s.b.received, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.cur = received{User: s.cur.User} }

func (s *session) Logout() error { return nil }

// startServer runs an SMTP server on a free local port for the test's
// lifetime and returns its port.
func startServer(t *testing.T, be *backend) int {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp server: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return p
}

func newTestSender(t *testing.T, port int, user string) *SMTPSender {
	t.Helper()
	cfg := SMTPConfig{Host: "127.0.0.1", Port: port, From: "Allmende <portal@allmende.test>", TLS: "none"}
	if user != "" {
		cfg.Username, cfg.Password = user, "secret"
	}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTPDelivers(t *testing.T) {
	be := &backend{user: "portal"}
	s := newTestSender(t, startServer(t, be), "portal")

	body := "Hallo Ada,\n\ndeine Bewerbung ist eingegangen. Grüße\n"
	err := s.Send(context.Background(), Message{
		To: "ada@example.org", Subject: "Bewerbung eingegangen – Allmende", Body: body, ID: "application-received:42",
	})
	if err != nil {
		t.Fatal(err)
	}

	got := be.mails()
	if len(got) != 1 {
		t.Fatalf("server received %d mails, want 1", len(got))
	}
	m := got[0]
	if m.User != "portal" {
		t.Errorf("authenticated as %q, want portal", m.User)
	}
	if m.From != "portal@allmende.test" {
		t.Errorf("envelope from %q", m.From)
	}
	if len(m.To) != 1 || m.To[0] != "ada@example.org" {
		t.Errorf("envelope to %q", m.To)
	}
	parsed := parseMail(t, m.Data)
	if parsed.subject != "Bewerbung eingegangen – Allmende" {
		t.Errorf("subject %q", parsed.subject)
	}
	if parsed.body != strings.ReplaceAll(body, "\n", "\r\n") {
		t.Errorf("body %q", parsed.body)
	}
	if want := "<allmende." + idKey("application-received:42") + "@allmende.test>"; parsed.header.Get("Message-Id") != want {
		t.Errorf("Message-ID %q, want %q", parsed.header.Get("Message-Id"), want)
	}
	if _, err := parsed.header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if !strings.HasPrefix(parsed.header.Get("Content-Type"), "text/plain") {
		t.Errorf("Content-Type %q", parsed.header.Get("Content-Type"))
	}
}

func TestSMTPRejectedRecipientIsPermanent(t *testing.T) {
	be := &backend{reject: map[string]int{"gone@example.org": 550, "later@example.org": 451}}
	s := newTestSender(t, startServer(t, be), "")

	err := s.Send(context.Background(), Message{To: "gone@example.org", Subject: "s", Body: "b", ID: "x"})
	if err == nil {
		t.Fatal("send to a rejected recipient succeeded")
	}
	if !IsPermanent(err) {
		t.Fatalf("550: IsPermanent(%v) = false, want true", err)
	}
	// A 4xx reply (greylisting, full mailbox) is worth another try.
	err = s.Send(context.Background(), Message{To: "later@example.org", Subject: "s", Body: "b", ID: "y"})
	if err == nil {
		t.Fatal("send to a deferred recipient succeeded")
	}
	if IsPermanent(err) {
		t.Fatalf("451: IsPermanent(%v) = true, want false", err)
	}
	if n := len(be.mails()); n != 0 {
		t.Errorf("server received %d mails, want 0", n)
	}
}

func TestSMTPUnreachableIsTransient(t *testing.T) {
	// A port that nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	s := newTestSender(t, port, "")
	err = s.Send(context.Background(), Message{To: "ada@example.org", Subject: "s", Body: "b"})
	if err == nil {
		t.Fatal("send without a server succeeded")
	}
	if IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = true, want false", err)
	}
}

func TestInvalidRecipientIsPermanent(t *testing.T) {
	s := newTestSender(t, 1, "") // never dialled
	err := s.Send(context.Background(), Message{To: "not an address", Subject: "s", Body: "b"})
	if !IsPermanent(err) {
		t.Fatalf("IsPermanent(%v) = false, want true", err)
	}
}

func TestNewSMTPChecksConfig(t *testing.T) {
	for name, cfg := range map[string]SMTPConfig{
		"no host":  {From: "a@b.test"},
		"bad from": {Host: "localhost", From: "nope"},
		"bad tls":  {Host: "localhost", From: "a@b.test", TLS: "ssl"},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("%s: NewSMTP accepted %+v", name, cfg)
		}
	}
}

type parsedMail struct {
	header        netmail.Header
	subject, body string
}

// parseMail decodes the parts of a message the tests look at.
func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, data)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return parsedMail{header: msg.Header, subject: subject, body: string(b)}
}
