package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"allmende/i18n"
)

// A page drawn with the menu cache is the page drawn without it, for
// every language, combination of roles and current page, also when the
// cache was filled by an earlier page of another viewer.
func TestCachedMenuIsTheDrawnMenu(t *testing.T) {
	var cache MenuCache
	draw := func(ctx context.Context, p Page) string {
		t.Helper()
		var buf bytes.Buffer
		if err := Layout(p).Render(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	navs := []string{"dashboard", "vms", "hosts", "applications", "appeals", ""}
	for round := 0; round < 2; round++ { // the second round reads the cache
		for _, lang := range i18n.Langs {
			ctx := i18n.WithLocale(context.Background(), i18n.NewLocale(lang, time.UTC))
			for roles := 0; roles < 1<<6; roles++ {
				v := &Viewer{Name: "Ada", IsMember: roles&1 != 0, IsBoard: roles&2 != 0, IsAdmin: roles&4 != 0,
					IsSupervisory: roles&8 != 0, IsModerator: roles&16 != 0, IsAppeals: roles&32 != 0, Unread: int64(roles)}
				for _, nav := range navs {
					p := Page{Title: "T", Nav: nav, CSRF: "token-" + nav, Viewer: v, Path: "/"}
					want := draw(ctx, p)
					p.Menus = &cache
					if got := draw(ctx, p); got != want {
						t.Fatalf("%s, roles %06b, page %q: cached menu differs", lang, roles, nav)
					}
					if !strings.Contains(want, `value="token-`+nav+`"`) {
						t.Fatalf("the logout form lost the session's token")
					}
				}
			}
		}
	}
	n := 0
	cache.drawn.Range(func(_, _ any) bool { n++; return true })
	if want := len(i18n.Langs) * (1 << 6) * len(navs); n != want {
		t.Errorf("cache holds %d menus, want %d", n, want)
	}
}
