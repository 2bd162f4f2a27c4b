// Command lighthouse audits pages of a freshly started portal with Google
// Lighthouse in Debian's Chromium and fails when a category scores under
// its target (issue 15: best practices and SEO 100 on the login page):
//
//	go run ./e2e/lighthouse [-page /login] [-min 100] [-form-factor mobile|desktop]
//
// Lighthouse comes from npm at the pinned version, through npx, so it is
// fetched once and never part of the portal. The portal runs in-process
// with --libvirt none; the pages audited are those a visitor sees before
// signing in.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"allmende/web"
)

// lighthouseVersion is pinned: scores move between versions.
const lighthouseVersion = "13.5.0"

var categories = []string{"performance", "accessibility", "best-practices", "seo"}

func main() {
	pages := flag.String("page", "/login", "comma-separated pages to audit")
	min := flag.Int("min", 100, "lowest acceptable score of accessibility, best practices and SEO")
	minPerf := flag.Int("min-performance", 90, "lowest acceptable performance score (it varies with the machine's load)")
	formFactor := flag.String("form-factor", "mobile", "mobile or desktop")
	flag.Parse()
	if err := run(strings.Split(*pages, ","), *min, *minPerf, *formFactor); err != nil {
		fmt.Fprintln(os.Stderr, "lighthouse:", err)
		os.Exit(1)
	}
}

func run(pages []string, min, minPerf int, formFactor string) error {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return errors.New("chromium is not installed; run: go tool task setup")
	}
	npx, err := exec.LookPath("npx")
	if err != nil {
		return errors.New("npx is not installed (Debian package npm)")
	}
	dir, err := os.MkdirTemp("", "alm-lighthouse")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := &web.Config{Listen: "127.0.0.1:0", DataDir: dir, Database: filepath.Join(dir, "allmende.db"), Libvirt: "none", Workers: 1}
	srv, err := web.New(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("start portal: %w", err)
	}
	defer srv.Shutdown(context.WithoutCancel(ctx))
	addr, err := srv.Start(ctx)
	if err != nil {
		return fmt.Errorf("start portal: %w", err)
	}
	failed := false
	for _, page := range pages {
		scores, err := audit(npx, chromium, "http://"+addr+page, formFactor, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", page, err)
		}
		var line []string
		for _, c := range categories {
			want := min
			if c == "performance" {
				want = minPerf
			}
			mark := ""
			if scores[c] < want {
				mark, failed = " (under "+fmt.Sprint(want)+")", true
			}
			line = append(line, fmt.Sprintf("%s %d%s", c, scores[c], mark))
		}
		fmt.Printf("%s (%s, lighthouse %s): %s\n", page, formFactor, lighthouseVersion, strings.Join(line, ", "))
	}
	if failed {
		return errors.New("a score is under its target")
	}
	return nil
}

// audit runs Lighthouse on url and returns the categories' scores, 0–100.
func audit(npx, chromium, url, formFactor, dir string) (map[string]int, error) {
	out := filepath.Join(dir, "report.json")
	args := []string{"--yes", "lighthouse@" + lighthouseVersion, url,
		"--output=json", "--output-path=" + out, "--quiet",
		"--only-categories=" + strings.Join(categories, ","),
		"--chrome-flags=--headless=new --no-sandbox --disable-gpu"}
	if formFactor == "desktop" {
		args = append(args, "--preset=desktop")
	}
	cmd := exec.Command(npx, args...)
	cmd.Env = append(os.Environ(), "CHROME_PATH="+chromium)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("npx lighthouse: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var report struct {
		Categories map[string]struct {
			Score *float64 `json:"score"`
		} `json:"categories"`
		Audits map[string]struct {
			Title string   `json:"title"`
			Score *float64 `json:"score"`
		} `json:"audits"`
	}
	if err := json.Unmarshal(b, &report); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	scores := map[string]int{}
	for _, c := range categories {
		if s := report.Categories[c].Score; s != nil {
			scores[c] = int(*s*100 + 0.5)
		}
	}
	// Name what cost points, so a score under 100 says why.
	var lost []string
	for id, a := range report.Audits {
		if a.Score != nil && *a.Score < 1 && *a.Score >= 0 {
			lost = append(lost, fmt.Sprintf("  %s: %s (%.2f)", id, a.Title, *a.Score))
		}
	}
	sort.Strings(lost)
	if len(lost) > 0 {
		fmt.Fprintf(os.Stderr, "%s, audits under full marks:\n%s\n", url, strings.Join(lost, "\n"))
	}
	return scores, nil
}
