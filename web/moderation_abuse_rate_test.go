package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/models/moderation"
)

// The abuse form and endpoint count every submission of a sending address,
// invalid ones too: after the hour's allowance even a well-formed report is
// refused, 429 with Retry-After in the API, and a clear message in the page
// (in the reader's language).
func TestAbuseFormRateLimited(t *testing.T) {
	_, base, _ := startServer(t, "none")
	anon := newClient(t, base)
	seen := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	post := func(body string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/abuse-reports", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return anon.do(req)
	}
	probe := `{"ip":"192.0.2.44","seen_at":"` + seen + `","category":"spam","evidence":"x"}`
	for i := range moderation.ExternalAttemptsPerHour - 1 {
		if resp, body := post(probe); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("probe %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// The last one of the hour through the page, then the page refuses.
	form := url.Values{"ip": {"192.0.2.44"}, "seen_at": {seen}, "category": {"spam"}, "evidence": {"x"}}
	resp, _ := anon.submit("/abuse", "/abuse", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	resp, body := anon.submit("/abuse", "/abuse", form)
	wantStatus(t, resp, http.StatusTooManyRequests)
	wantContains(t, body, "Too many reports from your address in the last hour", `name="evidence"`)
	resp, body = post(probe)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many reports") {
		t.Fatalf("API after the hour's allowance: %d %s", resp.StatusCode, body)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
}
