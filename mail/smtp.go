package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the SMTP server that relays the portal's mail.
type SMTPConfig struct {
	Host               string
	Port               int // 0 picks the usual port for TLS: 587, 465 or 25
	Username, Password string
	From               string
	TLS                string // "starttls" (default), "tls", "none"
}

// SMTPSender delivers mail through an SMTP server.
type SMTPSender struct {
	cfg  SMTPConfig
	opts []gomail.Option
}

// NewSMTP checks cfg and returns a sender for it. Nothing is dialled until
// the first Send.
func NewSMTP(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: from address %q: %w", cfg.From, err)
	}
	opts := []gomail.Option{}
	port := cfg.Port
	encrypted := true
	switch cfg.TLS {
	case "", "starttls":
		// Mandatory, not opportunistic: a server that stops offering
		// STARTTLS must not make the portal send credentials in clear.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		if port == 0 {
			port = 587
		}
	case "tls":
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		encrypted = false
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf("smtp: tls %q: want starttls, tls or none", cfg.TLS)
	}
	opts = append(opts, gomail.WithPort(port))
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password),
			gomail.WithOpportunisticSMTPAuth(authMechs(encrypted)...))
	}
	// Build one client now so that a bad option fails at start-up rather
	// than in the first job.
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &SMTPSender{cfg: cfg, opts: opts}, nil
}

// authMechs lists the SASL mechanisms to try, strongest first. Channel
// binding (-PLUS) needs TLS. PLAIN and LOGIN stay in the list without TLS
// because go-mail itself refuses them over a clear connection unless the
// server is on localhost, which is the one case "none" is meant for.
func authMechs(encrypted bool) []gomail.SMTPAuthType {
	mechs := []gomail.SMTPAuthType{gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
	if encrypted {
		mechs = append([]gomail.SMTPAuthType{gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA1PLUS}, mechs...)
	}
	return mechs
}

// Send delivers m in a connection of its own.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := build(s.cfg.From, m, time.Now())
	if err != nil {
		return err
	}
	// A fresh client per message: go-mail's client records the chosen
	// auth mechanism in itself while dialling, so sharing one between
	// concurrent workers would race. Dialling per mail costs little at the
	// portal's volume.
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail %q to %s via %s: %w", m.Subject, m.To, c.ServerAddr(), err)
	}
	return nil
}
