// Package web assembles the portal: configuration, database, River, the
// hypervisor connection, middleware, routes, and graceful shutdown.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/config"
	"allmende/handlers"
	"allmende/hypervisor"
	"allmende/jobs"
	"allmende/mail"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/models/governance"
	"allmende/models/membership"
	"allmende/models/metering"

	"allmende/models/moderation"
	"allmende/models/replication"
	"allmende/models/rulebook"
)

// Server is one running portal instance.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	db       *models.DB
	hv       *hypervisor.Manager
	river    *jobs.Client
	echo     *echo.Echo
	listener net.Listener
	ops      *operator // the --metrics-listen server, nil without one
	hosts    *compute.Hosts
	Accounts *account.Accounts // exposed for tests and the bench harness

	// stopSupervising ends the private libvirtd's supervision (not the
	// daemon) and waits for it; nil unless --libvirt auto.
	stopSupervising func()

	// releaseQueue drops the claim on a SQLite job queue (jobs.ClaimQueue).
	releaseQueue func() error
	// lease is this instance's lease on a PostgreSQL job queue; nil on SQLite.
	lease *jobs.Lease
}

// New opens the database, migrates it, starts the private libvirtd when
// asked to, and wires every service. Nothing listens until Start.
func New(ctx context.Context, cfg *Config, log *slog.Logger) (_ *Server, err error) {
	// Jobs compare paths under the data dir; make it absolute whatever the caller passed.
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	cfg.DataDir = abs
	if err := prepareDataDir(abs); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.db, err = config.OpenDatabase(ctx, cfg, log); err != nil {
		return nil, err
	}
	// A host that cannot be dialled within 10 s counts as down; retrying
	// longer only holds jobs (and a graceful shutdown) hostage.
	s.hv = hypervisor.NewManager(log, hypervisor.WithDialBudget(10*time.Second))
	accounts := account.NewAccounts(s.db)
	s.Accounts = accounts
	// The workers need the Hosts service, and the Hosts service needs the
	// client to enqueue; queueRef breaks the cycle.
	queue := &queueRef{}
	s.hosts = compute.NewHosts(s.db, queue, hypervisor.ValidateURI)
	outbox, sender, err := mailer(cfg)
	if err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = models.SystemClock{}
	}
	rules := rulebook.NewRules(s.db, clock)
	memberships := membership.NewMemberships(s.db, queue, rules, clock)
	memberships.SetUsage(compute.OwnerUsage)                           // §67b: a partial notice keeps the VMs' entitlement
	memberships.SetExtraordinaryRights(governance.ExtraordinaryRights) // §67a: objections to bylaw changes
	vms := compute.NewVMs(s.db, queue, compute.MembershipEntitlements{Memberships: memberships}, clock)
	tasks := compute.NewTasks(s.db, queue)
	images := compute.NewImages(s.db, queue)
	uploadDir := filepath.Join(cfg.DataDir, "uploads")
	// Replication joins placement (N+1, the replica host of a new VM)
	// through compute's guard, since compute ranks below it.
	replicas := replication.New(s.db, queue, clock)
	vms.SetPlacementGuard(replicas)
	// Appeals go to the appeals committee the assembly elects.
	mod := moderation.New(s.db, queue, clock, moderation.ElectedCommittee{Organs: memberships.Organs()})
	starterSvc := compute.NewStarter(s.db, queue)
	starterCache := cfg.StarterCache
	if starterCache == "" {
		starterCache = StarterCacheDir(cfg.DataDir)
	}
	series := metering.NewMetrics(s.db)
	commons := metering.NewCommons(s.db, series, clock)
	deps := jobs.Deps{Hosts: s.hosts, Hypervisor: s.hv, Mail: sender, Memberships: memberships,
		VMs: vms, Tasks: tasks, Images: images, Starter: starterSvc, StarterCache: starterCache, UploadDir: uploadDir,
		Replicas: replicas, Replicator: s.hv, FenceCommand: cfg.FenceCommand,
		Metrics: series, MetricsEvery: cfg.MetricsEvery, Commons: commons, Moderation: mod}
	// Before the workers start: jobs a killed predecessor left running are
	// taken up at once rather than after River's rescue delay.
	if s.releaseQueue, err = jobs.ClaimQueue(ctx, s.db, log); err != nil {
		return nil, err
	}
	// On PostgreSQL the instances working the queue watch each other's
	// heartbeats and take a dead one's jobs over within seconds.
	s.lease = jobs.NewLease(s.db, log)
	deps.Lease = s.lease
	if s.river, err = jobs.NewWorking(s.db, log, cfg.Workers, deps); err != nil {
		return nil, err
	}
	queue.Queue = s.river
	if err = s.attachLibvirt(ctx); err != nil {
		return nil, err
	}
	keyHash, keyBlock, err := sessionKeys(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	h := &handlers.Handler{
		Accounts:       accounts,
		Registrations:  account.NewRegistrations(s.db, queue, accounts),
		PasswordResets: account.NewPasswordResets(s.db, queue),
		Notifications:  account.NewNotifications(s.db),
		Tokens:         account.NewTokens(s.db, accounts),
		Idempotency:    account.NewIdempotencyKeys(s.db, clock),
		Hosts:          s.hosts,
		Audit:          models.NewAuditLog(s.db),
		Outbox:         outbox,
		Members:        memberships,
		Rules:          rules,

		Governance: governance.NewGovernance(s.db, queue, rules, clock).WithOrgans(memberships.Organs()),

		VMs:          vms,
		Tasks:        tasks,
		Plans:        compute.NewPlans(s.db),
		Images:       images,
		Starter:      starterSvc,
		Networks:     compute.NewNetworks(s.db),
		SSHKeys:      compute.NewSSHKeys(s.db),
		HostSettings: s.hosts,
		Replicas:     replicas,
		Moderation:   mod,
		FenceCommand: cfg.FenceCommand != "",
		Console:      consoles{vms: vms, hv: s.hv},
		UploadDir:    filepath.Join(cfg.DataDir, "uploads"),
		Sessions:     handlers.NewSessions(keyHash, keyBlock),
		Log:          log,
		Metrics:      series,
		Commons:      commons,
	}
	s.echo = s.routes(h, newMetrics(s.db, replicas, s.hosts, series))
	return s, nil
}

// mailer picks SMTP when configured; the outbox of .eml files is always
// there, as the fallback and for the admins' Outbox page.
func mailer(cfg *Config) (*mail.Outbox, mail.Sender, error) {
	if cfg.SMTPFrom == "" {
		cfg.SMTPFrom = config.DefaultFrom
	}
	if _, err := netmail.ParseAddress(cfg.SMTPFrom); err != nil {
		return nil, nil, fmt.Errorf("--smtp-from: %w", err)
	}
	outbox := mail.NewOutbox(filepath.Join(cfg.DataDir, "outbox"), cfg.SMTPFrom)
	if cfg.SMTPHost == "" {
		return outbox, outbox, nil
	}
	smtp, err := mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort,
		Username: cfg.SMTPUser, Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
	if err != nil {
		return nil, nil, fmt.Errorf("smtp settings: %w", err)
	}
	return outbox, smtp, nil
}

// queueRef forwards to the River client once it exists.
type queueRef struct{ models.Queue }

// StarterCacheDir is where the starter.build job keeps the starter guest's
// files by default.
func StarterCacheDir(dataDir string) string { return filepath.Join(dataDir, "cache", "starter") }

// LibvirtDir is where --libvirt auto keeps the private libvirtd of a data
// dir: `allmende libvirtd stop` and tests stop it there.
func LibvirtDir(dataDir string) string { return filepath.Join(dataDir, "libvirt") }

// attachLibvirt starts the private daemon, or finds it running from an
// earlier start (auto), or registers the given URI as host "local".
func (s *Server) attachLibvirt(ctx context.Context) error {
	uri := s.cfg.Libvirt
	switch {
	case uri == "none":
		return nil
	case uri == "auto":
		// The daemon is not ours to stop: it keeps running, guests and all,
		// when this portal exits, crashes or is upgraded.
		d, err := hypervisor.StartDaemonWith(ctx, LibvirtDir(s.cfg.DataDir), s.log, hypervisor.DaemonOptions{CPUControl: !s.cfg.LibvirtNoCPULimits})
		if err != nil {
			return fmt.Errorf("start private libvirtd: %w", err)
		}
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { d.Supervise(sctx, 2*time.Second); close(done) }()
		s.stopSupervising = func() { cancel(); <-done }
		uri = d.URI()
		pool := filepath.Join(LibvirtDir(s.cfg.DataDir), "pools", "default")
		if err := s.hv.EnsureDirPool(ctx, uri, "default", pool); err != nil {
			return fmt.Errorf("default storage pool: %w", err)
		}
	case strings.HasPrefix(uri, "/"):
		uri = "qemu+unix:///system?socket=" + uri
	}
	if err := hypervisor.ValidateURI(uri); err != nil {
		return fmt.Errorf("--libvirt: %w", err)
	}
	if _, err := s.hosts.EnsureLocal(ctx, uri); err != nil {
		return fmt.Errorf("register local host: %w", err)
	}
	return nil
}

// Start listens and starts the worker pool. It returns the address bound,
// which matters when the configuration asks for port 0.
func (s *Server) Start(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.listener = ln
	if err := s.lease.Start(ctx); err != nil {
		ln.Close()
		return "", err
	}
	// River's work runs until Stop; the request context must not end it.
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return "", errors.Join(fmt.Errorf("start workers: %w", err), s.lease.Close(ctx, true))
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.echo.Server = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	if err := s.startOperator(); err != nil {
		return "", err // the caller shuts down what runs
	}
	return ln.Addr().String(), nil
}

// Handler exposes the router, for in-process tests.
func (s *Server) Handler() http.Handler { return s.echo }

// DB is the server's database handle, for tests and tools that must act on
// its own connections (on SQLite the single writer).
func (s *Server) DB() *models.DB { return s.db }

// Shutdown stops taking requests, lets running jobs finish (or hands them
// back to the queue when they take too long), closes libvirt connections
// and closes the database. The private libvirtd and its guests keep
// running; `allmende libvirtd stop` stops them.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.echo != nil && s.echo.Server != nil {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		errs = append(errs, s.echo.Server.Shutdown(hctx), s.stopOperator(hctx))
		cancel()
	}
	if s.river != nil && s.listener != nil {
		grace := s.cfg.ShutdownGrace
		if grace <= 0 {
			grace = 30 * time.Second
		}
		jctx, cancel := context.WithTimeout(ctx, grace)
		stopped := true
		if err := s.river.Stop(jctx); err != nil {
			// Cancelled jobs go back to the queue as retryable, so the next
			// start runs them again; the workers are idempotent.
			s.log.Warn("jobs did not finish in time; handing them back", "err", err)
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := s.river.StopAndCancel(cctx); err != nil {
				errs = append(errs, err)
				stopped = false
			}
			ccancel()
		}
		cancel()
		// With every job finished or handed back the instance leaves at
		// once; otherwise the others take its jobs over when its heartbeat
		// is stale.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		errs = append(errs, s.lease.Close(dctx, stopped))
		dcancel()
	}
	errs = append(errs, s.close())
	return errors.Join(errs...)
}

func (s *Server) close() error {
	var errs []error
	if s.stopSupervising != nil {
		s.stopSupervising()
	}
	if s.hv != nil {
		errs = append(errs, s.hv.Close())
	}
	if s.releaseQueue != nil {
		errs = append(errs, s.releaseQueue())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// DataDirWritable fails early with a clear message instead of deep inside
// SQLite or libvirt.
func DataDirWritable(dir string) error { return prepareDataDir(dir) }

// prepareDataDir makes the data dir traversable but not listable (0711):
// QEMU runs as libvirt-qemu and must reach the VM disks in the storage pool
// below it, while everything secret in it is a 0600 file (database, session
// keys) or a 0700 directory (outbox, uploads).
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	return nil
}
