// Command allmende is the member self-service portal of a cloud cooperative.
//
//	allmende serve                  run the portal
//	allmende user create ...        create an account (bootstrap the first admin)
//	allmende user lock|unlock ...   shut an account out (ends its sessions) or let it back in
//	allmende token create ...       issue a personal access token
//	allmende setup starter          the starter plan and image (as Admin → Getting started)
//	allmende migrate                bring the database schema up to date
//	allmende libvirtd status|stop   the private libvirtd of --libvirt auto
//	allmende dev two-hosts          two libvirt hosts on this machine and a portal
//	allmende verify-election FILE   check a published election record (no database)
//
// Every subcommand but verify-election takes --data and --database (or ALLMENDE_DATA,
// ALLMENDE_DATABASE) and may run beside a server on the same data.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // time zones of accounts even where the system has no zoneinfo

	"allmende/config"
	"allmende/hypervisor"
	"allmende/models"
	"allmende/models/account"
	"allmende/web"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(os.Args[1:], os.Stdin, os.Stdout, log); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "allmende:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  allmende serve [--listen ADDR] [--data DIR] [--database DSN] [--libvirt auto|none|URI] [--workers N]
  allmende user create --email E --name N [--role admin] [--role board] ...   (password from stdin, or generated)
  allmende user lock --email E       end the account's sessions and refuse its logins and tokens
  allmende user unlock --email E     let a locked account log in again
  allmende token create --email E [--name NAME]
  allmende setup starter [--data DIR] [--host NAME]   queue the starter plan and image (built by the portal)
  allmende migrate [--data DIR] [--database DSN]
  allmende libvirtd status [--data DIR]   is the private libvirtd (--libvirt auto) running?
  allmende libvirtd stop [--data DIR]     stop it (and rig hosts), and with it every guest on it
  allmende dev two-hosts [serve flags] [--base-port 16610] [--stop]   two libvirt hosts a, b and a portal
  allmende verify-election FILE      recompute a published election record (secret ballots); no database`

func run(args []string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "serve":
		return serve(ctx, rest, stdout, log)
	case cmd == "migrate":
		return migrate(ctx, rest, stdout, log)
	case cmd == "user" && len(rest) > 0 && rest[0] == "create":
		return userCreate(ctx, rest[1:], stdin, stdout, log)
	case cmd == "user" && len(rest) > 0 && (rest[0] == "lock" || rest[0] == "unlock"):
		return userLock(ctx, rest[0], rest[1:], stdout, log)
	case cmd == "setup" && len(rest) > 0 && rest[0] == "starter":
		return setupStarter(ctx, rest[1:], stdout, log)
	case cmd == "token" && len(rest) > 0 && rest[0] == "create":
		return tokenCreate(ctx, rest[1:], stdout, log)
	case cmd == "libvirtd" && len(rest) > 0 && (rest[0] == "stop" || rest[0] == "status"):
		return libvirtdCommand(rest[0], rest[1:], stdout, log)
	case cmd == "verify-election":
		return verifyElection(rest, stdout)
	case cmd == "dev" && len(rest) > 0 && rest[0] == "two-hosts":
		return devTwoHosts(ctx, rest[1:], stdout, log)
	}
	return errors.New(usage)
}

func serve(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := config.ParseFlags("serve", args, true, nil)
	if err != nil {
		return err
	}
	if err := web.DataDirWritable(cfg.DataDir); err != nil {
		return err
	}
	web.ShareCPUs()
	srv, err := web.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	fmt.Fprintf(stdout, "Allmende is running: open http://%s/\n", addr)
	fmt.Fprintf(stdout, "First admin, in a second terminal in this directory:\n  %s user create --data %s --email you@example.org --name You --role admin\n",
		selfCommand(os.Args[0]), shellQuote(cfg.DataDir))
	fmt.Fprintln(stdout, "Ctrl-C stops the portal; its private libvirtd and guests keep running (stop them: "+
		selfCommand(os.Args[0])+" libvirtd stop --data "+shellQuote(cfg.DataDir)+").")
	<-ctx.Done()
	log.Info("shutting down")
	return srv.Shutdown(context.Background())
}

// selfCommand is how to run this program again from the same directory:
// the path it was started by ("bin/allmende" after `go tool task run`,
// "allmende" from PATH), or "go run ." when `go run` built it into a cache.
func selfCommand(arg0 string) string {
	if arg0 == "" || strings.Contains(arg0, "go-build") || strings.HasSuffix(arg0, ".test") {
		return "go run ."
	}
	return shellQuote(arg0)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// libvirtdCommand reports on or stops the private libvirtd that
// `serve --libvirt auto` starts under the data dir. The portal never stops
// it itself (guests must outlive a portal restart), so this is the way to.
func libvirtdCommand(sub string, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := config.ParseFlags("libvirtd "+sub, args, false, nil)
	if err != nil {
		return err
	}
	dir := web.LibvirtDir(cfg.DataDir)
	if sub == "stop" {
		if err := errors.Join(hypervisor.StopDaemon(dir, log), hypervisor.StopRig(cfg.DataDir, log)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no libvirtd running in %s\n", dir)
		return nil
	}
	st, err := hypervisor.StatusOf(dir)
	if err != nil {
		return err
	}
	rig, err := hypervisor.RigHosts(cfg.DataDir)
	if err != nil {
		return err
	}
	for _, name := range rig {
		rs, err := hypervisor.StatusOf(hypervisor.RigHostDir(cfg.DataDir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rig host %s: running %t, answering %t (holder pid %d)\n", name, rs.Running, rs.Answering, rs.HolderPID)
	}
	switch {
	case len(rig) > 0 && !st.Running && !st.Answering:
		// a rig's data dir (dev two-hosts) has no private libvirtd of its own
	case !st.Running && !st.Answering:
		fmt.Fprintf(stdout, "not running (%s)\n", dir)
		return errors.New("the private libvirtd is not running")
	case st.Answering:
		fmt.Fprintf(stdout, "running, answering on %s (holder pid %d)\n", st.URI, st.HolderPID)
	default:
		fmt.Fprintf(stdout, "running but not answering yet on %s (holder pid %d)\n", st.URI, st.HolderPID)
	}
	return nil
}

func migrate(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	cfg, err := config.ParseFlags("migrate", args, false, nil)
	if err != nil {
		return err
	}
	db, err := config.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database is up to date")
	return db.Close()
}

type roleFlags []account.Role

func (r *roleFlags) String() string { return fmt.Sprint(*r) }
func (r *roleFlags) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		role, err := account.ParseRole(part)
		if err != nil {
			return err
		}
		*r = append(*r, role)
	}
	return nil
}

func userCreate(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	var email, name string
	var roles roleFlags
	cfg, err := config.ParseFlags("user create", args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address (required)")
		fs.StringVar(&name, "name", "", "display name (required)")
		fs.Var(&roles, "role", "role to grant: member, board, admin, moderator, supervisory or appeals (repeatable; board, supervisory and appeals normally follow from appointments)")
	})
	if err != nil {
		return err
	}
	password, generated, err := readOrGeneratePassword(stdin)
	if err != nil {
		return err
	}
	db, err := config.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := account.NewAccounts(db).Register(ctx, models.SystemActor("cli"),
		account.RegisterInput{Email: email, Name: name, Password: password, Roles: roles})
	if err != nil {
		if de, ok := models.AsError(err); ok && len(de.Fields) > 0 {
			var msgs []string
			for f, m := range de.Fields {
				msgs = append(msgs, "--"+f+": "+m)
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s) with roles %v\n", u.Email, u.ID, u.Roles)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// readOrGeneratePassword reads the first line of stdin when it is a pipe
// or file; at a terminal (or with nothing piped) it generates a password.
func readOrGeneratePassword(stdin io.Reader) (string, bool, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice == 0 && (st.Mode().IsRegular() || st.Mode()&os.ModeNamedPipe != 0) {
			line, err := bufio.NewReader(f).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return "", false, fmt.Errorf("read password from stdin: %w", err)
			}
			if p := strings.TrimRight(line, "\r\n"); p != "" {
				return p, false, nil
			}
		}
	}
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(out), true, nil
}

// userLock locks or unlocks an account. There is no admin page for
// accounts yet; the command line is the administrators' way in.
func userLock(ctx context.Context, verb string, args []string, stdout io.Writer, log *slog.Logger) error {
	var email string
	cfg, err := config.ParseFlags("user "+verb, args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account (required)")
	})
	if err != nil {
		return err
	}
	db, err := config.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts := account.NewAccounts(db)
	change := accounts.Lock
	if verb == "unlock" {
		change = accounts.Unlock
	}
	u, err := change(ctx, models.SystemActor("cli"), email)
	if models.IsNotFound(err) {
		return fmt.Errorf("no account with email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%sed %s (%s)\n", verb, u.Email, u.ID)
	return nil
}

func tokenCreate(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	var email, name string
	cfg, err := config.ParseFlags("token create", args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account (required)")
		fs.StringVar(&name, "name", "cli", "a name to recognise the token by")
	})
	if err != nil {
		return err
	}
	db, err := config.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts := account.NewAccounts(db)
	u, err := accounts.ByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("no account with email %q", email)
	}
	_, secret, err := account.NewTokens(db, accounts).Create(ctx, models.SystemActor("cli"), u.ID, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}
