// Package i18n holds the portal's languages: German and English.
//
// Messages are written in English in the code, and the English text is the
// message's id (as with gettext): a template reads
// `{ i18n.T(ctx, "Log in") }` and stays readable, and a message without a
// German translation shows in English rather than as a key. The German
// catalogue is locales/de.toml; plural forms follow CLDR's rules through
// go-i18n. The catalogue may be split by area (locales/vm.de.toml, …): every
// locales/*.toml file is German, a message lives in exactly one of them.
// TestCatalogue fails when a message used in the code has no German
// text, and the web tests compare each translated page in both languages.
//
// The language and time zone of a request travel in its context (templ
// passes ctx to every component), so components need no extra parameter.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Lang is a language the portal speaks.
type Lang string

const (
	English Lang = "en"
	German  Lang = "de"
)

// Langs are the languages in the order offered to people.
var Langs = []Lang{German, English}

// Name is the language's name in itself, for the language switch.
func (l Lang) Name() string {
	if l == German {
		return "Deutsch"
	}
	return "English"
}

// Parse returns the language for a code such as "de" or "en", and false
// for anything else.
func Parse(code string) (Lang, bool) {
	switch Lang(strings.ToLower(strings.TrimSpace(code))) {
	case German:
		return German, true
	case English:
		return English, true
	}
	return "", false
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.German})

// Negotiate picks the language for an Accept-Language header; English when
// the browser asks for neither.
func Negotiate(acceptLanguage string) Lang {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	if i == 1 {
		return German
	}
	return English
}

//go:embed locales/*.toml
var localeFiles embed.FS

// catalogue is everything loaded from locales/: the go-i18n bundle, one
// localizer per language, and every message's translation as T returns it.
type catalogue struct {
	bundle     *goi18n.Bundle
	localizers map[Lang]*goi18n.Localizer
	// texts holds, per language but English, what go-i18n's Localize
	// gives T for each message of the catalogue. T runs dozens of times
	// per page; a map lookup instead of Localize (a language match, a
	// template lookup and execution each time) took most of i18n's cost
	// off a German page. A message without a text here is English.
	texts map[Lang]map[string]string
}

// loaded reads the catalogues once; they are embedded and never change,
// and a Localizer only reads the bundle, so every request shares them.
var loaded = sync.OnceValue(func() *catalogue {
	b := goi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	files, err := fs.Glob(localeFiles, "locales/*.toml")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("i18n: no German catalogue: %v", err))
	}
	var ids []string
	for _, f := range files {
		mf, err := b.LoadMessageFileFS(localeFiles, f)
		if err != nil {
			panic(fmt.Sprintf("i18n: the German catalogue %s does not load: %v", f, err)) // caught by TestCatalogue
		}
		for _, m := range mf.Messages {
			ids = append(ids, m.ID)
		}
	}
	c := &catalogue{bundle: b, localizers: map[Lang]*goi18n.Localizer{}, texts: map[Lang]map[string]string{}}
	for _, lang := range Langs {
		loc := goi18n.NewLocalizer(b, string(lang))
		c.localizers[lang] = loc
		if lang == English {
			continue
		}
		texts := make(map[string]string, len(ids))
		for _, id := range ids {
			if s, err := localize(loc, id); err == nil {
				texts[id] = s
			}
		}
		c.texts[lang] = texts
	}
	return c
})

// localize is T's call of go-i18n: the message's "other" form.
func localize(loc *goi18n.Localizer, msg string) (string, error) {
	return loc.Localize(&goi18n.LocalizeConfig{DefaultMessage: &goi18n.Message{ID: msg, Other: msg}})
}

type ctxKey struct{}

// Locale is what a request's context carries.
type Locale struct {
	Lang     Lang
	Location *time.Location
	loc      *goi18n.Localizer
	texts    map[string]string // the catalogue's texts in Lang; nil for English
}

// NewLocale makes the locale for a language and time zone (nil: UTC).
func NewLocale(lang Lang, tz *time.Location) *Locale {
	if tz == nil {
		tz = time.UTC
	}
	c := loaded()
	loc, ok := c.localizers[lang]
	if !ok {
		loc = goi18n.NewLocalizer(c.bundle, string(lang))
	}
	return &Locale{Lang: lang, Location: tz, loc: loc, texts: c.texts[lang]}
}

// WithLocale returns ctx carrying l.
func WithLocale(ctx context.Context, l *Locale) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

var english = sync.OnceValue(func() *Locale { return NewLocale(English, time.UTC) })

// From returns the locale in ctx, English in UTC when there is none
// (a job, a test rendering a component).
func From(ctx context.Context) *Locale {
	if l, ok := ctx.Value(ctxKey{}).(*Locale); ok && l != nil {
		return l
	}
	return english()
}

// LangOf is the language of ctx, for <html lang>.
func LangOf(ctx context.Context) string { return string(From(ctx).Lang) }

// T translates msg, an English text, and formats args into it with
// fmt.Sprintf when there are any ("Welcome, %s").
func T(ctx context.Context, msg string, args ...any) string {
	return From(ctx).T(msg, args...)
}

// T translates msg; see the package function T.
func (l *Locale) T(msg string, args ...any) string {
	out := msg
	if l.Lang != English && msg != "" {
		if l.texts != nil {
			if s, ok := l.texts[msg]; ok {
				out = s
			}
		} else if s, err := localize(l.loc, msg); err == nil {
			out = s
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(out, args...)
	}
	return out
}

// N translates a message with a count: one is the singular ("%d virtual
// machine"), other the plural and the message's id ("%d virtual
// machines"); the language's plural rules pick the form, and n is
// formatted into it.
func N(ctx context.Context, one, other string, n int) string {
	l := From(ctx)
	form := other
	if l.Lang == English {
		if n == 1 {
			form = one
		}
	} else if s, err := l.loc.Localize(&goi18n.LocalizeConfig{
		DefaultMessage: &goi18n.Message{ID: other, One: one, Other: other},
		PluralCount:    n,
	}); err == nil {
		form = s
	}
	if strings.Contains(form, "%") {
		return fmt.Sprintf(form, n)
	}
	return form
}
