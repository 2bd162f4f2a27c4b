package views

import (
	"bytes"
	"context"
	"testing"
	"time"

	"allmende/i18n"
)

// BenchmarkDashboardPage renders a member's dashboard, layout and
// navigation included, in both languages: the part of BenchmarkDashboard
// (package web) that is templ's.
func BenchmarkDashboardPage(b *testing.B) {
	p := Page{Title: "Dashboard", Nav: "dashboard", CSRF: "csrf-token-of-the-session", Path: "/",
		Viewer: &Viewer{Name: "Mia Member", Email: "mia@example.org", IsMember: true, Unread: 2}}
	d := Dashboard{Roles: []string{"member"}, VMsTotal: 2, VMsRunning: 1,
		Todos: []Todo{{Text: "Vote in the general assembly 2026", Href: "/assemblies/a1", Urgent: true}}}
	for _, lang := range i18n.Langs {
		b.Run(string(lang), func(b *testing.B) {
			ctx := i18n.WithLocale(context.Background(), i18n.NewLocale(lang, time.UTC))
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := DashboardPage(p, d).Render(ctx, &buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
