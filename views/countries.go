package views

import (
	"context"
	"slices"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"allmende/i18n"
	"allmende/models/membership"
)

// countryLists are the country choices per language, named and sorted in
// it (CLDR names, collation: "Österreich" sorts under O in German).
var countryLists = map[i18n.Lang]func() []radioChoice{
	i18n.German:  sync.OnceValue(func() []radioChoice { return countryChoices(language.German) }),
	i18n.English: sync.OnceValue(func() []radioChoice { return countryChoices(language.English) }),
}

func countryChoices(tag language.Tag) []radioChoice {
	names := display.Regions(tag)
	out := make([]radioChoice, 0, len(membership.Countries))
	for _, code := range membership.Countries {
		name := code
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				name = n
			}
		}
		out = append(out, radioChoice{Value: code, Label: name})
	}
	c := collate.New(tag)
	slices.SortStableFunc(out, func(a, b radioChoice) int { return c.CompareString(a.Label, b.Label) })
	return out
}

// countryOptions are the countries in the reader's language.
func countryOptions(ctx context.Context) []radioChoice {
	return countryLists[i18n.From(ctx).Lang]()
}

// countryName is a country's name in the reader's language, or the code
// itself when it names none (an erased entry, an old code).
func countryName(ctx context.Context, code string) string {
	for _, c := range countryOptions(ctx) {
		if c.Value == code {
			return c.Label
		}
	}
	return code
}
