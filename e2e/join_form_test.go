package e2e

import (
	"os/exec"

	"github.com/chromedp/chromedp"
	"testing"
)

// TestJoinFormInGerman: in Chromium, in German, the join form shows a
// legal person's fields only for that kind, and the total follows the
// number of shares typed, formatted the German way.
func TestJoinFormInGerman(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("%s is not installed (%v); run: go tool task setup", chromiumPath, err)
	}
	p := startPortal(t)
	p.register(t, "Ada Lovelace", "ada@example.org", "analytical-engine-1843")
	b := startBrowser(t)
	tb := b.newTab(t, p.url)
	tb.logIn("ada@example.org", "analytical-engine-1843")
	tb.open("/membership")
	tb.click(`button[name=lang][value=de]`)
	tb.waitJS(`document.documentElement.lang === "de"`, "the German page")
	tb.wantText("h1", "Der Genossenschaft beitreten")
	visible := func(sel string) bool {
		return run(t, tb.ctx, chromedp.Evaluate[bool](`document.querySelector("`+sel+`").offsetParent !== null`))
	}
	if visible("#join-legal") || !visible(".natural-only") {
		t.Error("a natural person sees the legal person's fields, or not the natural person's label")
	}
	tb.click(`input[name=person_kind][value=legal]`)
	tb.waitJS(`document.querySelector("#join-legal").offsetParent !== null`, "the legal person's fields")
	if visible(".natural-only") {
		t.Error("a legal person still sees the natural person's label")
	}
	tb.wantValue("#f-country", "DE")
	if got := tb.text(`#f-country option[value=DE]`); got != "Deutschland" {
		t.Errorf("country DE reads %q, want Deutschland", got)
	}
	tb.retype("#f-shares", "3")
	tb.waitJS(`document.querySelector("#join-total").textContent.replace(/\s/g, " ") === "150,00 €"`, "the total of 3 shares: 150,00 €")
	tb.retype("#f-shares", "12")
	tb.waitJS(`document.querySelector("#join-total").textContent.replace(/\s/g, " ") === "600,00 €"`, "the total of 12 shares: 600,00 €")
}
