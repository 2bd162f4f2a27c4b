package views

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/a-h/templ"

	"allmende/i18n"
)

// MenuCache keeps the navigation menu's links as drawn: they depend only
// on the language, the viewer's roles and the current page, and drawing
// their thirty translated links on every request was a fifth of what a
// dashboard cost to render. The keys are few (two languages, the role
// combinations people hold, the pages' fixed names), so it needs no
// bound. The zero value is ready; a Page without one draws every time.
type MenuCache struct {
	drawn sync.Map // menuKey → []byte
}

type menuKey struct {
	lang  string
	roles [6]bool
	nav   string
}

func cachedMenuLinks(p Page) templ.Component {
	if p.Menus == nil || p.Viewer == nil {
		return menuLinks(p)
	}
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		v := p.Viewer
		key := menuKey{lang: i18n.LangOf(ctx), nav: p.Nav,
			roles: [6]bool{v.IsMember, v.IsBoard, v.IsAdmin, v.IsSupervisory, v.IsModerator, v.IsAppeals}}
		if b, ok := p.Menus.drawn.Load(key); ok {
			_, err := w.Write(b.([]byte))
			return err
		}
		var buf bytes.Buffer
		if err := menuLinks(p).Render(ctx, &buf); err != nil {
			return err
		}
		p.Menus.drawn.Store(key, buf.Bytes())
		_, err := w.Write(buf.Bytes())
		return err
	})
}
