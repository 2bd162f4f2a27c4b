package web_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"allmende/models"
	"allmende/models/account"
)

// crawlLimit bounds each crawl; it is generous, the seeded portal has far
// fewer pages (the test fails when a crawl reaches it, so that a page
// left out is noticed).
const crawlLimit = 400

// TestEveryPageInBothLanguages seeds a portal with what the deep pages show
// (a host, plans, an image, a network, a member's VM, assemblies in several
// stages, a proposal, a moderation report, a closed month's statements),
// then follows every link (pagers and searches too) as an admin who is on
// the board and a member, as a plain member, as an applicant and signed
// out, and checks each page in German and English: no visible text may
// read the same in both but for the data the test made.
func TestEveryPageInBothLanguages(t *testing.T) {
	w, _, _ := vmPagesWorld(t)
	ctx := context.Background()
	if _, err := w.d.accounts.Register(ctx, models.SystemActor("test"), account.RegisterInput{Email: "root@example.org", Name: "Root Allrounder",
		Password: "correct horse battery", Roles: []account.Role{account.RoleAdmin, account.RoleBoard, account.RoleMember}}); err != nil {
		t.Fatal(err)
	}
	root := newClient(t, w.base)
	wantStatus(t, root.login("root@example.org", "correct horse battery"), http.StatusSeeOther)
	w.d.apply(t, "applicant@example.org", "Paula Applicant", 1)
	applicant := newClient(t, w.base)
	wantStatus(t, applicant.login("applicant@example.org", "correct horse battery"), http.StatusSeeOther)
	same := seedDeepPages(t, w, root)

	// The history and the share ledger the portal stored in English read
	// in German to a German reader, and as recorded to an English one.
	req, _ := http.NewRequest(http.MethodGet, w.base+"/membership", nil)
	req.Header.Set("Accept-Language", "de")
	_, body := w.mia.do(req)
	wantContains(t, body, "Beitritt beantragt, Geschäftsanteile: 2", "als Mitglied Nr. 1 aufgenommen, Geschäftsanteile: 2", `<td translate="yes">Aufnahme</td>`)
	_, body = w.mia.get("/membership")
	wantContains(t, body, "applied for 2 shares", "admitted as member 1 with 2 shares", `<td translate="yes">admission</td>`)

	for _, who := range []struct {
		name  string
		c     *client
		start string
	}{
		{"admin, board and member", root, "/"},
		{"member", w.mia, "/"},
		{"applicant", applicant, "/"},
		{"signed out", newClient(t, w.base), "/login"},
		// Pages reached by a form's redirect, not a link.
		{"signed out, after a form", newClient(t, w.base), "/register/confirm?email=x%40example.org"},
		{"signed out, after the reset form", newClient(t, w.base), "/password/reset?email=x%40example.org"},
		{"signed out, a page that is not there", newClient(t, w.base), "/no-such-page"},
	} {
		t.Run(who.name, func(t *testing.T) {
			pages := crawl(t, who.c, w.base, who.start, func(path string) {
				checkBothLanguages(t, who.c, w.base, path, same...)
			})
			t.Logf("%d pages: %s", len(pages), strings.Join(pages, " "))
			if len(pages) < 2 {
				t.Errorf("the crawl found only %d pages", len(pages))
			}
		})
	}
}

// seedDeepPages makes, as root (admin, board, member), what the deeper
// pages show beside vmPagesWorld's VM: a proposal, assemblies as draft,
// invited, voting and closed, a moderation report and a closed month. It
// returns the texts this data puts on the pages, which read alike in both
// languages.
func seedDeepPages(t *testing.T, w *vmWorld, root *client) []string {
	t.Helper()
	propose(t, root, "Test proposal", "entitlement_disk_gib", "40")
	assembly := func(title string) (string, string) {
		t.Helper()
		resp, body := root.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {title}, "form": {"virtual"},
			"access_details": {"https://meet.example.org/a"}, "voting_start": {moment(40 * 24 * time.Hour)}, "voting_end": {moment(41 * 24 * time.Hour)}})
		wantStatus(t, resp, http.StatusSeeOther)
		m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
		if m == nil {
			t.Fatalf("assembly %s: %q\n%s", title, resp.Header.Get("Location"), body)
		}
		manage := "/board/assemblies/" + m[1]
		for _, item := range []string{"Test accounts", "Test discharge"} {
			resp, _ = root.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {item}})
			wantStatus(t, resp, http.StatusSeeOther)
		}
		return m[1], manage
	}
	shift := func(id string, start, end time.Time) {
		t.Helper()
		if err := w.d.db.Gorm.Exec("UPDATE assemblies SET voting_start = ?, voting_end = ?, invited_at = ? WHERE id = ?",
			start.UTC(), end.UTC(), start.UTC().AddDate(0, 0, -30), id).Error; err != nil {
			t.Fatal(err)
		}
	}
	step := func(manage, action string) {
		t.Helper()
		resp, body := root.submit(manage, manage+"/"+action, url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s %s: %d\n%s", manage, action, resp.StatusCode, body)
		}
	}
	assembly("Test draft assembly")
	_, invited := assembly("Test invited assembly")
	step(invited, "invite")
	voting, votingManage := assembly("Test voting assembly")
	step(votingManage, "invite")
	shift(voting, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	step(votingManage, "open")
	closed, closedManage := assembly("Test closed assembly")
	step(closedManage, "invite")
	shift(closed, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	step(closedManage, "open")
	shift(closed, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Second))
	step(closedManage, "close")

	resp, body := w.mia.submit("/report", "/report", url.Values{"target_kind": {"member"}, "target": {"otto@example.org"},
		"category": {"conduct"}, "evidence": {"Test evidence"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("report: %d\n%s", resp.StatusCode, body)
	}

	month := time.Now().UTC().AddDate(0, -1, 0).Format("2006-01")
	resp, _ = root.submit("/board/statements?month="+month, "/board/costs", url.Values{"month": {month}, "category": {"housing"}, "amount": {"942.00"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = root.submit("/board/statements?month="+month, "/board/statements/close", url.Values{"month": {month}})
	wantStatus(t, resp, http.StatusSeeOther)

	return append(append([]string{}, vmPagesData...), "Root Allrounder", "Paula Applicant", "Mia Member", "Otto Other", "Root Allrounder (", "Otto Other (otto@example.org)",
		"#1 Mia Member", "#2 Otto Other", "default", // a network's name
		"https://meet.example.org/a", "Test evidence", month, "web-1 · Allmende", "← web-1", "More cores for everyone.",
		"Hauptstr. 1, 10115 Berlin, DE", "test", // the API token's name
		"bank transfer", // the payment's note as the board entered it
		// The rule's value until the assembly adopts a text: data.
		"The house rules of the cooperative. The general assembly replaces this placeholder with the adopted text.")
}

// crawl follows every same-origin link breadth-first from start, calling
// check on each page, and returns the pages in order. Pages whose
// translation is pending are fetched for their links but not checked.
func crawl(t *testing.T, c *client, base, start string, check func(path string)) []string {
	t.Helper()
	seen := map[string]bool{start: true}
	variants := map[string]int{} // queries queued per path and parameters: pagers go on without end
	queue := []string{start}
	var pages []string
	for len(queue) > 0 {
		if len(pages) == crawlLimit {
			t.Errorf("the crawl stopped at %d pages; %d more were queued (%s …)", crawlLimit, len(queue), queue[0])
			break
		}
		path := queue[0]
		queue = queue[1:]
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept-Language", "en")
		resp, body := c.do(req)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			continue // a download (the member's data export)
		}
		pages = append(pages, path)
		check(path)
		for _, link := range pageLinks(body) {
			if seen[link] {
				continue
			}
			seen[link] = true
			if u, _ := url.Parse(link); u.RawQuery != "" {
				key := u.Path + "?" + strings.Join(slices.Sorted(maps.Keys(u.Query())), "&")
				if variants[key] == maxQueries {
					continue
				}
				variants[key]++
			}
			queue = append(queue, link)
		}
	}
	sort.Strings(pages)
	return pages
}

// maxQueries is how many links to one path with the same parameters (a
// pager's pages, one filter's values) the crawl follows: enough to see each
// pager, filter and search at work.
const maxQueries = 3

// pageLinks returns the page's links to other pages of the portal (with
// their query, so pagers and filters count), and a search in each GET form
// (a word that finds nothing: the empty result is a page too), leaving out
// assets, downloads and what is no page.
func pageLinks(page string) []string {
	var out []string
	add := func(href string) {
		if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") {
			return
		}
		u, err := url.Parse(href)
		if err != nil || !crawlable(u.Path) {
			return
		}
		u.Fragment = ""
		out = append(out, u.String())
	}
	var form *url.URL // the GET form being read
	var search url.Values
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		tok := z.Token()
		attr := func(key string) string {
			for _, a := range tok.Attr {
				if a.Key == key {
					return a.Val
				}
			}
			return ""
		}
		switch {
		case tt == html.StartTagToken && tok.Data == "a":
			add(attr("href"))
		case tt == html.StartTagToken && tok.Data == "form" && !strings.EqualFold(attr("method"), "post"):
			form, _ = url.Parse(attr("action"))
			search = url.Values{}
		case form != nil && tok.Data == "input" && (attr("type") == "search" || attr("type") == "text") && attr("name") != "":
			search.Set(attr("name"), "zzz")
		case tt == html.EndTagToken && tok.Data == "form" && form != nil:
			if len(search) > 0 {
				form.RawQuery = search.Encode()
				add(form.String())
			}
			form = nil
		}
	}
}

// crawlable leaves out what is not a page: assets, downloads, the API,
// the raw mail files and the console's socket.
func crawlable(path string) bool {
	for _, skip := range []string{"/static/", "/api/", "/metrics", "/healthz", "/readyz"} {
		if strings.HasPrefix(path, skip) {
			return false
		}
	}
	for _, suffix := range []string{".csv", ".json", ".eml", ".md", ".txt", "/ws", "/download", "/csv"} {
		if strings.HasSuffix(path, suffix) {
			return false
		}
	}
	return path != ""
}
