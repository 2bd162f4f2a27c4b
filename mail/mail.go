// Package mail sends Allmende's outgoing mail: through an SMTP server when
// one is configured, otherwise into an outbox of .eml files under the data
// directory that admins can read in the portal.
//
// Both paths build the message with go-mail, so a mail in the outbox has
// exactly the shape it would have had on the wire.
package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	To, Subject, Body string
	// ID identifies the message across retries: it fixes the Message-ID
	// header (so a receiver can recognise a duplicate) and makes writing
	// to the outbox idempotent. Empty means "no identity": every send is a
	// new message.
	ID string
}

// Sender delivers a message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidAddress marks a recipient address that cannot be parsed;
// retrying will not make it valid.
var ErrInvalidAddress = errors.New("invalid mail address")

// IsPermanent reports whether err means this message can never be
// delivered as it is, so retrying is pointless: a recipient address that
// does not parse, or a 5xx reply to RCPT TO or DATA (the recipient or the
// content was refused).
//
// A 5xx reply to MAIL FROM or to AUTH is not counted: those concern the
// portal's own configuration (sender address, credentials), which an admin
// can fix, after which the waiting mail should still go out.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidAddress) {
		return true
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}

// build turns m into a go-mail message from the given address. It is the
// one place that decides the headers, shared by the SMTP and outbox paths.
func build(from string, m Message, date time.Time) (*gomail.Msg, error) {
	// No User-Agent/X-Mailer: they only advertise library versions.
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// A bad From is the portal's configuration, not the message's fault, so
	// it is not ErrInvalidAddress: the job retries until an admin fixes it.
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("sender %q: %w", from, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w: %w", m.To, ErrInvalidAddress, err)
	}
	// Header values must stay on one line; a newline in a subject built
	// from user input would otherwise start a header of its own.
	msg.Subject(strings.Join(strings.Fields(m.Subject), " "))
	msg.SetDateWithValue(date)
	if m.ID == "" {
		msg.SetMessageID()
	} else {
		msg.SetMessageIDWithValue("allmende." + idKey(m.ID) + "@" + domainOf(from))
	}
	// RFC 3834: tells vacation responders and the like not to answer.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg, nil
}

// idKey maps a message ID to a string safe in file names and Message-IDs:
// a readable prefix of the ID plus a hash of all of it, so that two IDs that
// differ only in characters the prefix drops still get different keys.
func idKey(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(id))
	return b.String() + "-" + hex.EncodeToString(sum[:8])
}

// domainOf returns the domain of an address, for the right side of a
// Message-ID; the address has already been validated by build.
func domainOf(addr string) string {
	if a, err := netmail.ParseAddress(addr); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 && i < len(a.Address)-1 {
			return a.Address[i+1:]
		}
	}
	return "localhost"
}
