package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// governancePages creates what the governance pages show (a proposal, an
// assembly with an item) as the signed-in admin, who is board and member
// too, and returns the pages to compare in both languages.
func governancePages(t *testing.T, c *client) []string {
	t.Helper()
	resp, body := c.submit("/proposals/new", "/proposals/new", url.Values{"kind": {"parameters"}, "title": {"Test proposal"},
		"reasoning": {"Test reasoning"}, "parameter": {"entitlement_disk_gib"}, "new_value": {"40"}, "effective_from": {today()}})
	wantStatus(t, resp, http.StatusSeeOther)
	proposal := resp.Header.Get("Location")
	if m := proposalIDRE.FindStringSubmatch(proposal); m == nil {
		t.Fatalf("proposal: %q\n%s", proposal, body)
	}
	resp, body = c.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"Test assembly"}, "form": {"virtual"},
		"access_details": {"Test link"}, "voting_start": {moment(3 * 24 * time.Hour)}, "voting_end": {moment(4 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	m := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("assembly: %q\n%s", resp.Header.Get("Location"), body)
	}
	manage := "/board/assemblies/" + m[1]
	resp, _ = c.submit(manage, manage+"/items", url.Values{"kind": {"ordinary"}, "title": {"Test item"}})
	wantStatus(t, resp, http.StatusSeeOther)
	return []string{"/rules", "/rules/entitlement_disk_gib", "/proposals", "/proposals?q=zzz", "/proposals/new", proposal,
		"/board/assemblies/new", manage}
}
