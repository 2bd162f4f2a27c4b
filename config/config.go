// Package config reads the portal's configuration from flags and the
// environment and opens its database: what the command line (main.go) and
// the server (web) share.
package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"allmende/models"
)

// Config is the portal's configuration. Every field can be set by a flag or
// by the ALLMENDE_* environment variable named in the options table; a flag
// wins over the environment, which wins over the default.
type Config struct {
	Listen     string
	DataDir    string
	Database   string // SQLite path or postgres:// URL; empty means <data>/allmende.db
	Libvirt    string // "auto", "none", a libvirt URI, or a socket path
	Workers    int
	TrustProxy bool // honour X-Forwarded-For/-Proto from a reverse proxy

	// Operator endpoints. /metrics and the details of /readyz are served on
	// the main listener only to requests with "Authorization: Bearer
	// <MetricsToken>", and to anyone on MetricsListen, an address of its own
	// that serves nothing else. Without either, /metrics answers only direct
	// requests from this machine (see web/operator.go).
	MetricsListen string
	MetricsToken  string

	// Outgoing mail. Without SMTPHost, mails are written as .eml files to
	// <data>/outbox and listed on the admins' Outbox page.
	SMTPHost     string
	SMTPPort     int
	SMTPUser     string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string // starttls, tls or none
	// FenceCommand powers a failed host off (e.g. IPMI), run with the
	// host's name and URI; exit 0 means fenced. Empty: admins confirm.
	FenceCommand string
	// MetricsEvery is how often each host's VM statistics are collected
	// (models/metering); 0 means every 15 s.
	MetricsEvery time.Duration

	// LibvirtNoCPULimits keeps the guests of the private libvirtd (--libvirt
	// auto) out of libvirt's cgroup CPU controller, so that moderation's
	// throttle limits disk I/O only (and the case log says so). The zero
	// value, the default, gives them the controller: the portal's domain
	// names are UUIDs, so their cgroups never clash with another daemon's
	// (hypervisor.DaemonOptions.CPUControl). Without root there are no
	// cgroups either way.
	LibvirtNoCPULimits bool

	// ShutdownGrace is how long a graceful shutdown lets running jobs
	// finish before handing them back to the queue (default 30 s).
	ShutdownGrace time.Duration

	// StarterCache is where the starter.build job keeps the starter
	// guest's files (package starter); empty means <data>/cache/starter.
	// Not settable from the command line (tests share one cache).
	StarterCache string

	// Clock is the domain's notion of now; tests set a controllable one.
	// Nil means the system clock. Not settable from the command line.
	Clock models.Clock
}

type option struct {
	name, env, usage string
	// bind registers the flag on fs, with the environment or default applied.
	bind func(fs *flag.FlagSet, c *Config, fromEnv string)
}

func str(name, env, def, usage string, field func(*Config) *string) option {
	return option{name, env, usage, func(fs *flag.FlagSet, c *Config, v string) {
		if v == "" {
			v = def
		}
		fs.StringVar(field(c), name, v, usage+" (env "+env+")")
	}}
}

// options is the configuration table: one line per setting.
var options = []option{
	str("data", "ALLMENDE_DATA", "./data", "data directory: database, session keys, private libvirtd", func(c *Config) *string { return &c.DataDir }),
	str("database", "ALLMENDE_DATABASE", "", "SQLite file path or postgres:// URL (default <data>/allmende.db)", func(c *Config) *string { return &c.Database }),
}

func integer(name, env string, def int, usage string, field func(*Config) *int) option {
	return option{name, env, usage, func(fs *flag.FlagSet, c *Config, v string) {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = def
		}
		fs.IntVar(field(c), name, n, usage+" (env "+env+")")
	}}
}

var serveOptions = []option{
	str("listen", "ALLMENDE_LISTEN", "127.0.0.1:8080", "address to listen on", func(c *Config) *string { return &c.Listen }),
	str("libvirt", "ALLMENDE_LIBVIRT", "auto", `"auto" starts a private libvirtd under the data dir; "none" runs without hosts; or a libvirt URI or socket path`, func(c *Config) *string { return &c.Libvirt }),
	integer("workers", "ALLMENDE_WORKERS", 4, "number of background jobs run at once", func(c *Config) *int { return &c.Workers }),
	{"trust-proxy", "ALLMENDE_TRUST_PROXY", "trust X-Forwarded-* headers from a reverse proxy", func(fs *flag.FlagSet, c *Config, v string) {
		b, _ := strconv.ParseBool(v)
		fs.BoolVar(&c.TrustProxy, "trust-proxy", b, "trust X-Forwarded-* headers from a reverse proxy (env ALLMENDE_TRUST_PROXY)")
	}},
	str("metrics-listen", "ALLMENDE_METRICS_LISTEN", "", "separate address serving /metrics and a detailed /readyz to anyone who reaches it (empty: none)", func(c *Config) *string { return &c.MetricsListen }),
	{"metrics-token", "ALLMENDE_METRICS_TOKEN", "bearer token for /metrics on the main listener", func(fs *flag.FlagSet, c *Config, v string) {
		// Not as the flag's default: -h would print it.
		fs.StringVar(&c.MetricsToken, "metrics-token", "", "bearer token for /metrics and the details of /readyz on the main listener; prefer the environment (env ALLMENDE_METRICS_TOKEN)")
		c.MetricsToken = v
	}},
	str("smtp-host", "ALLMENDE_SMTP_HOST", "", "SMTP server for outgoing mail; empty writes .eml files to <data>/outbox", func(c *Config) *string { return &c.SMTPHost }),
	integer("smtp-port", "ALLMENDE_SMTP_PORT", 587, "SMTP port", func(c *Config) *int { return &c.SMTPPort }),
	str("smtp-user", "ALLMENDE_SMTP_USER", "", "SMTP user name (no authentication when empty)", func(c *Config) *string { return &c.SMTPUser }),
	{"smtp-password", "ALLMENDE_SMTP_PASSWORD", "SMTP password", func(fs *flag.FlagSet, c *Config, v string) {
		// Not as the flag's default: -h would print it.
		fs.StringVar(&c.SMTPPassword, "smtp-password", "", "SMTP password; prefer the environment (env ALLMENDE_SMTP_PASSWORD)")
		c.SMTPPassword = v
	}},
	str("smtp-from", "ALLMENDE_SMTP_FROM", DefaultFrom, "sender address of outgoing mail", func(c *Config) *string { return &c.SMTPFrom }),
	str("smtp-tls", "ALLMENDE_SMTP_TLS", "starttls", "starttls, tls or none", func(c *Config) *string { return &c.SMTPTLS }),
	{"metrics-every", "ALLMENDE_METRICS_EVERY", "how often VM statistics are collected", func(fs *flag.FlagSet, c *Config, v string) {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			d = 15 * time.Second
		}
		fs.DurationVar(&c.MetricsEvery, "metrics-every", d, "how often each host's VM statistics are collected, at least 1s (env ALLMENDE_METRICS_EVERY)")
	}},
	{"libvirt-cpu-limits", "ALLMENDE_LIBVIRT_CPU_LIMITS", "with --libvirt auto: let sanctions limit guests' CPU", func(fs *flag.FlagSet, c *Config, v string) {
		on, err := strconv.ParseBool(v)
		if err != nil {
			on = true
		}
		c.LibvirtNoCPULimits = !on
		fs.Var(notBool{&c.LibvirtNoCPULimits}, "libvirt-cpu-limits", "with --libvirt auto: give the private libvirtd's guests the cgroup CPU controller (as root), so that a moderation throttle limits CPU as well as disk I/O; =false: disk I/O only (env ALLMENDE_LIBVIRT_CPU_LIMITS)")
	}},
	str("fence-command", "ALLMENDE_FENCE_COMMAND", "", "command that powers a failed host off, run with the host's name and URI (exit 0 = fenced); empty: admins confirm fencing", func(c *Config) *string { return &c.FenceCommand }),
}

// notBool is a boolean flag stored negated, for a setting that is on by
// default and whose Config field has its zero value mean "on".
type notBool struct{ off *bool }

func (b notBool) String() string {
	if b.off == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.off)
}

func (b notBool) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*b.off = !on
	return nil
}

func (b notBool) IsBoolFlag() bool { return true }

// ParseFlags reads the common options, plus the server's when serve is true,
// from args and the environment. extra registers a subcommand's own flags.
func ParseFlags(name string, args []string, serve bool, extra func(*flag.FlagSet)) (*Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c := &Config{}
	opts := options
	if serve {
		opts = append(append([]option{}, options...), serveOptions...)
	}
	for _, o := range opts {
		o.bind(fs, c, os.Getenv(o.env))
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	c.DataDir = abs
	if c.Database == "" {
		c.Database = filepath.Join(c.DataDir, "allmende.db")
	}
	return c, nil
}

// DefaultFrom is the sender of outgoing mail when none is configured.
const DefaultFrom = "Allmende <noreply@localhost>"
