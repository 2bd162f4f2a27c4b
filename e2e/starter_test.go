package e2e

import (
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"allmende/hypervisor/hvtest"
	"allmende/i18n"
	"allmende/models/account"
	"allmende/models/compute"
	"allmende/web"
)

// TestStarterSetupInBrowser walks the first-run path in Chromium: a new
// installation's admin, whose browser is German, finds the getting-started
// page in the menu, presses its one button, and the page follows the build
// until the starter plan and image are ready and links to the first VM,
// whose form offers them. An English browser then sees the same page ready
// and a second press makes nothing new.
func TestStarterSetupInBrowser(t *testing.T) {
	for _, bin := range []string{chromiumPath, "virsh", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (%v); run: go tool task setup", bin, err)
		}
	}
	// The tests' guest cache is the starter cache too: its kernel is
	// downloaded once per machine.
	hvtest.GuestFiles(t)
	cache, err := hvtest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	p := startVMPortalWith(t, func(c *web.Config) { c.StarterCache = cache })
	const email, password = "first-admin@example.org", "first-run-admin-1"
	p.register(t, "Frida First", email, password, account.RoleAdmin)
	b := startBrowser(t)

	for _, lang := range []i18n.Lang{i18n.German, i18n.English} {
		tab := b.newTabWithin(t, p.url, 4*time.Minute)
		tab.speak(string(lang))
		tab.logIn(email, password)
		tab.navTo("/admin/setup")
		wantLang(t, tab, string(lang))
		tab.submit(`main form[action="/admin/setup"] button[type=submit]`, http.StatusOK)
		tab.wantPath("/admin/setup")
		// The page polls its status part until the starter set is ready.
		if err := chromedp.Do(tab.ctx, chromedp.WaitVisible(chromedp.CSS(`.starter-ready a[href="/vms/new"]`))); err != nil {
			t.Fatalf("%s: the starter set never became ready: %v\n%s", lang, err, tab.html("main"))
		}
		wantLang(t, tab, string(lang))
		tab.submit(`.starter-ready a[href="/vms/new"]`, http.StatusOK)
		tab.wantPath("/vms/new")
		wantLang(t, tab, string(lang))
		plans := tab.texts("#f-plan_id option")
		if !slices.ContainsFunc(plans, func(s string) bool { return strings.HasPrefix(s, compute.StarterPlanName) }) {
			t.Errorf("%s: the new VM's form does not offer the starter plan: %q", lang, plans)
		}
		images := tab.texts("#f-image_id option")
		if !slices.ContainsFunc(images, func(s string) bool { return strings.Contains(s, compute.StarterImageName) }) {
			t.Errorf("%s: the new VM's form does not offer the starter image: %q", lang, images)
		}
	}
	// The second press (in English) made nothing new: one starter plan.
	var plans int64
	if err := p.srv.DB().Gorm.Model(&compute.Plan{}).Where("name = ?", compute.StarterPlanName).Count(&plans).Error; err != nil {
		t.Fatal(err)
	}
	if plans != 1 {
		t.Errorf("%d starter plans after two presses, want 1", plans)
	}
}
