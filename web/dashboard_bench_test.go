package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"allmende/models/account"
)

// BenchmarkDashboard loads the signed-in member's dashboard through the
// portal's whole middleware chain, in process, as e2e/bench does over the
// network with wrk: the CPU per request of the page itself, without the
// network and wrk sharing the CPUs. Compare runs by ns/op with -cpu 1:
//
//	go test ./web -run XXX -bench BenchmarkDashboard -benchtime 2000x -cpu 1 -count 3 -cpuprofile cpu.pprof
//
// "en" sends what wrk sends (the session cookie only); "de-gzip" what a
// German browser sends (Accept-Language and Accept-Encoding).
func BenchmarkDashboard(b *testing.B) {
	srv, base, _ := startServer(b, "none")
	createUser(b, srv, "bench@example.org", account.RoleMember)
	c := newClient(b, base)
	c.login("bench@example.org", "correct horse battery")
	u, _ := url.Parse(base)
	var cookies []string
	for _, ck := range c.http.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	if len(cookies) == 0 {
		b.Fatal("no session cookie after the login")
	}
	h := srv.Handler()
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"en", nil, "Welcome, Test bench@example.org"},
		{"de-gzip", map[string]string{"Accept-Language": "de-DE,de;q=0.9", "Accept-Encoding": "gzip"}, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("Cookie", strings.Join(cookies, "; "))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			// A fresh request each time, as the server makes: gorilla's
			// sessions keep the decoded cookie in the request's context.
			check := func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req.Clone(context.Background()))
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), tc.want) {
					b.Fatalf("GET / with the session: %d, body without %q", rec.Code, tc.want)
				}
				if sc := rec.Header().Values("Set-Cookie"); len(sc) > 0 {
					b.Fatalf("the dashboard sets a cookie on every load: %q", sc)
				}
			}
			check()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req.Clone(context.Background()))
			}
			// ns/op is wall time, which other processes on the machine
			// stretch; CPU time of this process per request is the
			// figure to compare (it includes the GC's share).
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			check() // still signed in: a lost session would measure fast redirects
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
