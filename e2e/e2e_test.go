package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"allmende/hypervisor"
	"allmende/i18n"
	"allmende/models"
	"allmende/models/account"
	"allmende/views"
	"allmende/web"
)

// chromiumPath is Debian's Chromium; the tests never download a browser.
const chromiumPath = "/usr/bin/chromium"

// tabTimeout bounds one subtest's browser work, so a page that never shows
// what we wait for fails the test instead of hanging it.
const tabTimeout = 40 * time.Second

// TestPortal starts one portal and one browser and runs every scenario
// against them; each scenario gets its own browser context (its own cookie
// jar), so the scenarios do not see each other's sessions.
func TestPortal(t *testing.T) {
	for _, bin := range []string{chromiumPath, "virsh"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (%v); run: go tool task setup", bin, err)
		}
	}
	p := startPortal(t)
	b := startBrowser(t)

	t.Run("ConsoleCollectorSeesCSPViolations", func(t *testing.T) {
		// Guards the CSP assertion of every other scenario: if the
		// collector missed violations, those checks could never fail.
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Security-Policy", "script-src 'self'")
			fmt.Fprint(w, `<!DOCTYPE html><title>csp</title><script>document.title = "ran"</script>`)
		}))
		defer ts.Close()
		tab := b.newTab(t, ts.URL)
		tab.expectCSPViolations = true
		tab.open("/")
		if got := tab.console.violations(); len(got) == 0 {
			t.Fatalf("an inline script under script-src 'self' raised no CSP message; console: %q", tab.console.all())
		}
	})

	t.Run("RegisterLogoutLogin", func(t *testing.T) {
		tab := b.newTab(t, p.url)
		const name, email, password = "Ada Lovelace", "ada@example.org", "analytical-engine-1843"

		tab.open("/register")
		tab.fill("#f-name", name)
		tab.fill("#f-email", email)
		tab.fill("#f-password", password)
		tab.submit(`form[action="/register"] button[type=submit]`, http.StatusOK)
		tab.confirmRegistration(p.dataDir, email)
		tab.wantPath("/")
		tab.wantText("main h1", "Welcome, "+name)
		tab.wantText("main .flash.success", "Welcome! Your account has been created.")
		tab.screenshot("dashboard.png")

		tab.logOut()

		tab.fill("#f-email", email)
		tab.fill("#f-password", password)
		tab.submit(`form[action="/login"] button[type=submit]`, http.StatusOK)
		tab.wantPath("/")
		tab.wantText("main h1", "Welcome, "+name)

		tab.logOut()
		// The session must really be gone, not just the page changed.
		tab.open("/")
		tab.wantPath("/login")
	})

	t.Run("WrongPasswordKeepsEmail", func(t *testing.T) {
		const email = "grace@example.org"
		p.register(t, "Grace Hopper", email, "cobol-compiler-1959")
		tab := b.newTab(t, p.url)

		tab.open("/login")
		tab.fill("#f-email", email)
		tab.fill("#f-password", "not-her-password")
		tab.submit(`form[action="/login"] button[type=submit]`, http.StatusUnauthorized)
		tab.wantPath("/login")
		tab.wantText("main .flash.error", "The email address or password is wrong.")
		tab.wantValue("#f-email", email)
		tab.wantValue("#f-password", "")
	})

	t.Run("WeakPasswordShowsFieldError", func(t *testing.T) {
		tab := b.newTab(t, p.url)
		const name, email, weak = "Katherine Johnson", "katherine@example.org", "orbit62"

		tab.open("/register")
		tab.fill("#f-name", name)
		tab.fill("#f-email", email)
		tab.fill("#f-password", weak)
		tab.submit(`form[action="/register"] button[type=submit]`, http.StatusUnprocessableEntity)
		tab.wantText("#e-password", "Use at least 10 characters.")
		// "Next to the field": the message follows the input inside its
		// label, and the input points at it for screen readers.
		next := run(t, tab.ctx, chromedp.Evaluate[string](
			`document.getElementById("f-password").nextElementSibling?.id ?? ""`))
		if next != "e-password" {
			t.Errorf("element after #f-password is %q, want the error #e-password", next)
		}
		attrs := run(t, tab.ctx, chromedp.Attributes(chromedp.CSS("#f-password")))
		if attrs["aria-invalid"] != "true" || attrs["aria-describedby"] != "e-password" {
			t.Errorf("#f-password attributes %v: want aria-invalid=true, aria-describedby=e-password", attrs)
		}
		tab.wantValue("#f-name", name)
		tab.wantValue("#f-email", email)
		tab.wantValue("#f-password", "")
		if html := run(t, tab.ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, weak) {
			t.Errorf("the rejected password %q is echoed in the page", weak)
		}
		if n := run(t, tab.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".field-error").length`)); n != 1 {
			t.Errorf("%d field errors shown, want only the password's", n)
		}
	})

	t.Run("AdminSeesLocalHost", func(t *testing.T) {
		const email, password = "root@example.org", "hypervisor-admin-1"
		p.register(t, "Rooty", email, password, account.RoleAdmin)
		tab := b.newTab(t, p.url)
		tab.logIn(email, password)

		tab.navTo("/admin/hosts")
		tab.wantPath("/admin/hosts")
		host := `#hosts article.host[data-host="local"]`
		// The refresh job may still be running: the table then polls via
		// htmx until the job has stored the inventory.
		if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(host+" .badge.ok"))); err != nil {
			t.Fatalf("host local never became reachable: %v\n%s", err, tab.html("#hosts"))
		}
		tab.wantText(host+" .badge.ok", "reachable")
		tab.wantText(host+" dd code", p.libvirtURI())

		// Refresh asks for a new reading; the page then polls until the
		// job has stored it. The reading must be one taken after the click,
		// shown without the user reloading.
		clicked := time.Now().UTC().Truncate(time.Second)
		tab.submit(host+` form[action$="/refresh"] button`, http.StatusOK)
		tab.wantText("main .flash.info", "Refresh queued.")
		run(t, tab.ctx, chromedp.Evaluate[chromedp.Void](`window.e2eNotReloaded = true`))
		if err := chromedp.Do(tab.ctx,
			chromedp.WaitNotPresent(chromedp.CSS(`#hosts[hx-get]`)),
			chromedp.WaitVisible(chromedp.CSS(host+" .badge.ok")),
		); err != nil {
			t.Fatalf("the table did not settle after Refresh: %v\n%s", err, tab.html("#hosts"))
		}
		if !run(t, tab.ctx, chromedp.Evaluate[bool](`window.e2eNotReloaded === true`)) {
			t.Errorf("the page reloaded instead of updating the table in place")
		}
		shown := run(t, tab.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('`+host+` dt')]
			.find(dt => dt.textContent === "Last refresh")?.nextElementSibling?.textContent ?? ""`))
		// The page writes the moment to the minute, in the reader's zone
		// (UTC for this browser).
		refreshed, err := time.Parse("2 Jan 2006, 15:04 MST", shown)
		if err != nil {
			t.Fatalf("last refresh %q: %v", shown, err)
		}
		if refreshed.Before(clicked.Truncate(time.Minute)) {
			t.Errorf("last refresh %s is older than the click at %s", refreshed, clicked)
		}
		tab.screenshot("hosts.png")

		// Compared right after the fresh reading: a VM's memory size can
		// change (ballooning), so an old reading could differ from virsh.
		want := p.virshFacts(t)
		tab.wantText(host+" dd.cpus", want.cpus)
		// The test machine may itself be a VM whose memory is ballooned:
		// the host's total then moves by some hundred MiB between two
		// readings, so the page may be up to 5 % off virsh's.
		if shown := tab.text(host + " dd.memory"); !nearBytes(shown, want.memoryBytes, 0.05) {
			t.Errorf("%s dd.memory shows %q, want %q (± 5 %%)", host, shown, want.memory)
		}
		tab.wantText(host+" dd.libvirt-version", want.libvirtVersion)
		tab.wantText(host+" dd.qemu-version", want.qemuVersion)

		// The admin's dashboard sums the hosts up.
		tab.open("/")
		summary := run(t, tab.ctx, chromedp.Evaluate[string](
			`document.querySelector('main a[href="/admin/hosts"]')?.parentElement.textContent.trim() ?? ""`))
		if summary != "1 host, 1 reachable." {
			t.Errorf("dashboard hosts summary %q, want %q", summary, "1 host, 1 reachable.")
		}
	})

	// The image set-up in an English and in a German browser: the texts
	// the test expects are the portal's own in that language.
	for _, lang := range []i18n.Lang{i18n.English, i18n.German} {
		t.Run("AdminUploadsImagesInForm/"+string(lang), func(t *testing.T) {
			ctx := i18n.WithLocale(context.Background(), i18n.NewLocale(lang, time.UTC))
			email, password := "images-"+string(lang)+"@example.org", "hypervisor-admin-2"
			p.register(t, "Imogen", email, password, account.RoleAdmin)
			tab := b.newTab(t, p.url)
			tab.speak(string(lang))
			tab.logIn(email, password)
			dir := t.TempDir()
			file := func(name string) string {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, bytes.Repeat([]byte{'k'}, 64<<10), 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			}
			tab.open("/admin/images")
			wantLang(t, tab, string(lang))
			// The only host is preselected.
			if got := run(t, tab.ctx, chromedp.Evaluate[string](`document.querySelector("#up-host_id").selectedOptions[0].textContent`)); got != "local" {
				t.Errorf("host preselected %q, want local", got)
			}
			upload := func(path, name, kind string) {
				t.Helper()
				run(t, tab.ctx, chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{path}))
				run(t, tab.ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
					`document.querySelector("#up-name").value = %q; document.querySelector("#up-kind").value = %q`, name, kind)))
				run(t, tab.ctx, chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
			}
			// No name: the form comes back in place, with the error by the
			// field, the kind kept, and a word about the file.
			upload(file("vmlinuz"), "", "kernel")
			if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS("#up-e-name"))); err != nil {
				t.Fatalf("no field error after an upload without a name: %v\n%s", err, tab.html("main"))
			}
			tab.wantFieldError("#up-name", "up-e-name", i18n.T(ctx, "Give the image a name."))
			tab.wantValue("#up-kind", "kernel")
			tab.wantText("#up-rechoose", i18n.T(ctx, "Choose the file again: browsers do not keep a chosen file when a form comes back."))
			tab.wantPath("/admin/images")

			suffix := "-" + string(lang)
			for _, up := range []struct{ file, name, kind string }{
				{"vmlinuz", "e2e-kernel" + suffix, "kernel"}, {"initrd.gz", "e2e-initrd" + suffix, "initrd"}, {"disk.raw", "e2e-disk" + suffix, "disk"},
			} {
				upload(file(up.file), up.name, up.kind)
				row := `#images tr[data-image="` + up.name + `"]`
				if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(row+" .badge.ok"))); err != nil {
					t.Fatalf("%s never became ready: %v\n%s", up.name, err, tab.html("main"))
				}
				label := map[string]string{"kernel": "kernel", "initrd": "initrd", "disk": "disk image"}[up.kind]
				tab.wantText(row+" td:nth-child(2)", i18n.T(ctx, label)) // as the table names the kind
			}
			// The kernel and the initrd are offered for direct kernel boot.
			for sel, want := range map[string]string{"#up-kernel_image_id": "e2e-kernel" + suffix, "#up-initrd_image_id": "e2e-initrd" + suffix} {
				if got := tab.texts(sel + " option"); !slices.ContainsFunc(got, func(o string) bool { return strings.HasPrefix(o, want) }) {
					t.Errorf("%s offers %q", sel, got)
				}
			}

			// A member is offered the disk only.
			memberEmail, memberPassword := "imagemember-"+string(lang)+"@example.org", "image-member-1"
			p.register(t, "Ina", memberEmail, memberPassword, account.RoleMember)
			mt := b.newTab(t, p.url)
			mt.speak(string(lang))
			mt.logIn(memberEmail, memberPassword)
			mt.open("/vms/new")
			offered := mt.texts("#f-image_id option")
			if !slices.ContainsFunc(offered, func(s string) bool { return strings.Contains(s, "e2e-disk"+suffix) }) {
				t.Errorf("the member is not offered the disk image: %q", offered)
			}
			for _, o := range offered {
				if strings.Contains(o, "e2e-kernel") || strings.Contains(o, "e2e-initrd") {
					t.Errorf("the member is offered %q", o)
				}
			}
		})
	}

	t.Run("MemberForbiddenAndNotFound", func(t *testing.T) {
		const email, password = "member@example.org", "just-a-member-1"
		p.register(t, "Mia Member", email, password, account.RoleMember)
		tab := b.newTab(t, p.url)
		tab.logIn(email, password)

		if n := run(t, tab.ctx, chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/admin/hosts"]').length`)); n != 0 {
			t.Errorf("a member's navigation links to the hosts page")
		}
		tab.openStatus("/admin/hosts", http.StatusForbidden)
		tab.wantText("main h1", "Not allowed")
		tab.wantText("main .error-page p", "This needs the admin role.")

		tab.openStatus("/no/such/page", http.StatusNotFound)
		tab.wantText("main h1", "Page not found")
		// The 404 page keeps the signed-in navigation, so the user can go on.
		tab.wantText(`nav a[href="/account"]`, "Account")
		tab.wantText(`nav form[action="/logout"] button`, "Log out")
	})
}

// portal is the server under test.
type portal struct {
	srv     *web.Server
	url     string // http://127.0.0.1:port
	dataDir string
}

func startPortal(t *testing.T) *portal {
	t.Helper()
	// Not t.TempDir(): libvirtd's socket paths below the data dir must fit
	// the 107 bytes of a unix socket address.
	dir, err := os.MkdirTemp("", "alm-e2e")
	if err != nil {
		t.Fatal(err)
	}
	// Runs after the portal's shutdown: the portal leaves its private
	// libvirtd running, as it must for guests; the test's own ends here.
	t.Cleanup(func() {
		if err := hypervisor.StopDaemon(web.LibvirtDir(dir), slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("stop libvirtd: %v", err)
		}
		os.RemoveAll(dir)
	})

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "auto", Workers: 2}
	srv, err := web.New(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("start portal: %v", err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		srv.Shutdown(ctx)
		t.Fatalf("start portal: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &portal{srv: srv, url: "http://" + addr, dataDir: dir}
}

// register creates an account directly, as `allmende user create` does.
func (p *portal) register(t *testing.T, name, email, password string, roles ...account.Role) {
	t.Helper()
	_, err := p.srv.Accounts.Register(context.Background(), models.SystemActor("e2e"),
		account.RegisterInput{Email: email, Name: name, Password: password, Roles: roles})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
}

func (p *portal) libvirtURI() string {
	return "qemu+unix:///system?socket=" + filepath.Join(p.dataDir, "libvirt", "run", "libvirt-sock")
}

// hostFacts are the host figures as the hosts page should print them.
type hostFacts struct {
	cpus, memory, libvirtVersion, qemuVersion string
	memoryBytes                               uint64
}

// virshFacts asks the private libvirtd through virsh — a separate client —
// so the page is compared with libvirt itself, not with the portal's reading.
func (p *portal) virshFacts(t *testing.T) hostFacts {
	t.Helper()
	node := virsh(t, p.libvirtURI(), "nodeinfo")
	ver := virsh(t, p.libvirtURI(), "version", "--daemon")
	var f hostFacts
	f.cpus = node["CPU(s)"]
	kib, ok := strings.CutSuffix(node["Memory size"], " KiB")
	var n uint64
	if _, err := fmt.Sscan(kib, &n); !ok || err != nil {
		t.Fatalf("virsh nodeinfo: memory size %q is not in KiB", node["Memory size"])
	}
	f.memory, f.memoryBytes = views.Bytes(n*1024), n*1024
	f.libvirtVersion = ver["Running against daemon"]
	f.qemuVersion, ok = strings.CutPrefix(ver["Running hypervisor"], "QEMU ")
	if !ok || f.cpus == "" || f.libvirtVersion == "" {
		t.Fatalf("unexpected virsh output: nodeinfo %v, version %v", node, ver)
	}
	return f
}

// virsh runs a virsh command whose output is "Key: value" lines.
func virsh(t *testing.T, uri string, args ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	facts := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			facts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return facts
}

// browser is one headless Chromium shared by the scenarios.
type browser struct {
	ctx context.Context
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cancelling the allocator waits for Chromium to exit, so the profile
	// directory is no longer written when TempDir's cleanup removes it.
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return &browser{ctx: ctx}
}

// tab is a page in a fresh browser context, with its console recorded.
type tab struct {
	t       *testing.T
	ctx     context.Context
	base    string
	console *consoleLog
	// expectCSPViolations turns off the CSP check for the harness's own test.
	expectCSPViolations bool
}

func (b *browser) newTab(t *testing.T, base string) *tab {
	t.Helper()
	return b.newTabWithin(t, base, tabTimeout)
}

// newTabWithin is newTab for a scenario that needs longer than tabTimeout,
// such as one that waits for a guest to boot.
func (b *browser) newTabWithin(t *testing.T, base string, timeout time.Duration) *tab {
	t.Helper()
	console := &consoleLog{}
	deadline, cancelDeadline := context.WithTimeout(b.ctx, timeout)
	ctx, cancel := chromedp.NewContext(deadline,
		chromedp.WithNewBrowserContext(),
		chromedp.WithListener(console.record))
	tb := &tab{t: t, ctx: ctx, base: base, console: console}
	t.Cleanup(cancelDeadline)
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if tb.expectCSPViolations {
			return
		}
		// A round trip first: the listener has then seen every event the
		// browser sent before the reply.
		_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("0"))
		for _, m := range console.violations() {
			t.Errorf("CSP violation: %s", m)
		}
		for _, m := range console.exceptions() {
			t.Errorf("uncaught script error: %s", m)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return tb
}

// open navigates to path and expects 200.
func (tb *tab) open(path string) { tb.t.Helper(); tb.openStatus(path, http.StatusOK) }

func (tb *tab) openStatus(path string, status int64) {
	tb.t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	tb.checkResponse("open "+path, resp, err, status)
}

// submit clicks an element that navigates (a submit button or a link) and
// waits for the resulting page, which must come with status.
func (tb *tab) submit(sel string, status int64) {
	tb.t.Helper()
	tb.unfold(sel)
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel)))
	tb.checkResponse("click "+sel, resp, err, status)
}

// unfold opens the <details> around sel, as a person opens the
// navigation's Menu and its Board or Administration dropdown before
// clicking a link in it.
func (tb *tab) unfold(sel string) {
	tb.t.Helper()
	q, _ := json.Marshal(sel)
	run(tb.t, tb.ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.querySelector(`+string(q)+`);
		for (let d = el && el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
	})()`))
}

func (tb *tab) checkResponse(what string, resp *network.Response, err error, status int64) {
	tb.t.Helper()
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		tb.t.Fatalf("%s: no page loaded", what)
	}
	if resp.Status != status {
		tb.t.Fatalf("%s: %s answered %d, want %d\n%s", what, resp.URL, resp.Status, status, tb.html("main"))
	}
}

func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
		tb.t.Fatalf("type into %s: %v", sel, err)
	}
}

func (tb *tab) logIn(email, password string) {
	tb.t.Helper()
	tb.open("/login")
	tb.fill("#f-email", email)
	tb.fill("#f-password", password)
	tb.submit(`form[action="/login"] button[type=submit]`, http.StatusOK)
	tb.wantPath("/")
}

func (tb *tab) logOut() {
	tb.t.Helper()
	tb.submit(`nav form[action="/logout"] button`, http.StatusOK)
	tb.wantPath("/login")
	tb.wantText("main h1", "Log in")
}

func (tb *tab) wantPath(want string) {
	tb.t.Helper()
	loc := run(tb.t, tb.ctx, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		tb.t.Fatalf("location %q: %v", loc, err)
	}
	if u.Path != want {
		tb.t.Fatalf("at %s, want path %s", loc, want)
	}
}

func (tb *tab) wantText(sel, want string) {
	tb.t.Helper()
	if got := strings.TrimSpace(run(tb.t, tb.ctx, chromedp.Text(chromedp.CSS(sel)))); got != want {
		tb.t.Errorf("%s shows %q, want %q", sel, got, want)
	}
}

// nearBytes reports whether shown ("9.6 GiB", as views.Bytes writes it) is
// within the fraction tol of want bytes.
func nearBytes(shown string, want uint64, tol float64) bool {
	var v float64
	var unit string
	if _, err := fmt.Sscan(shown, &v, &unit); err != nil {
		return false
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		return false
	}
	got, w := v*mult, float64(want)
	return got >= w*(1-tol) && got <= w*(1+tol)
}

func (tb *tab) wantValue(sel, want string) {
	tb.t.Helper()
	if got := run(tb.t, tb.ctx, chromedp.Value(chromedp.CSS(sel))); got != want {
		tb.t.Errorf("%s holds %q, want %q", sel, got, want)
	}
}

// html returns an element's markup for failure messages, or the error.
func (tb *tab) html(sel string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	h, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
	if err != nil {
		return fmt.Sprintf("(no %s: %v)", sel, err)
	}
	return h
}

// screenshot saves the page for people to look at; nothing asserts on it.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll("artifacts", 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join("artifacts", name), png, 0o644)
	}
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
	}
}

// run runs one action and fails the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// consoleLog records what a tab writes to its console. The listener runs in
// the tab's event loop, hence the lock.
type consoleLog struct {
	mu       sync.Mutex
	messages []string
	thrown   []string
}

func (c *consoleLog) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *log.EventEntryAdded:
		// Chromium reports CSP violations here, as "security" errors.
		msg = string(ev.Entry.Level) + " " + string(ev.Entry.Source) + ": " + ev.Entry.Text
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		c.mu.Lock()
		c.thrown = append(c.thrown, fmt.Sprintf("%s:%d %s", d.URL, d.LineNumber+1, text))
		c.mu.Unlock()
		return
	default:
		return
	}
	c.mu.Lock()
	c.messages = append(c.messages, msg)
	c.mu.Unlock()
}

func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.messages...)
}

// violations are the messages with which Chromium reports what the CSP
// blocked. Older versions start them "Refused to …"; Chromium 156 says
// "Executing inline script violates the following Content Security Policy
// directive …" instead, so both are matched.
func (c *consoleLog) violations() []string {
	var out []string
	for _, m := range c.all() {
		if strings.Contains(m, "Refused to") || strings.Contains(m, "Content Security Policy") {
			out = append(out, m)
		}
	}
	return out
}

func (c *consoleLog) exceptions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.thrown...)
}
