// Money typed into forms: "100,00" in a German browser and "100.00" in an
// English one are both a hundred euros, never ten thousand.

package handlers

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// moneyLocale says which of point and comma is the decimal separator; the
// other one groups thousands.
type moneyLocale struct {
	decimal, group byte
}

var (
	pointDecimal = moneyLocale{decimal: '.', group: ','}
	commaDecimal = moneyLocale{decimal: ',', group: '.'}
)

// commaDecimalLanguages write "1.000,50" (primary language subtags).
var commaDecimalLanguages = map[string]bool{
	"de": true, "fr": true, "es": true, "it": true, "nl": true, "pt": true, "da": true, "sv": true,
	"nb": true, "nn": true, "no": true, "fi": true, "pl": true, "cs": true, "sk": true, "sl": true,
	"hr": true, "hu": true, "ro": true, "ru": true, "uk": true, "tr": true, "el": true, "bg": true,
	"lt": true, "lv": true, "et": true, "ca": true, "id": true,
}

// localeOf picks the money locale of the language the browser prefers most
// (Accept-Language); the portal has no language setting of its own yet.
// Without a header it is the point, as the portal's own pages write money.
func localeOf(c echo.Context) moneyLocale {
	return localeFromAcceptLanguage(c.Request().Header.Get("Accept-Language"))
}

func localeFromAcceptLanguage(h string) moneyLocale {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		lang, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if lang == "" || lang == "*" || q <= bestQ {
			continue
		}
		best, bestQ = lang, q
	}
	if commaDecimalLanguages[best] {
		return commaDecimal
	}
	return pointDecimal
}

// parseMoney reads an amount of euros as cents: "100", "100,00", "100.00",
// "1.000,50", "1,000.50", "€ 100,00", "100 €", "EUR 100". Point and comma
// are told apart by position where the input says which is which; only
// "1.000" or "1,000" (one separator, three digits after it) is ambiguous,
// and there the locale decides: its grouping character groups, its decimal
// separator separates (then the third decimal must be 0). Negative amounts,
// more than two decimals and anything else are refused.
func parseMoney(s string, loc moneyLocale) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, cur := range []string{"EUR", "eur", "€"} {
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, cur), cur))
	}
	// Spaces (also no-break ones) group thousands in some locales: "1 000,50".
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(s)
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '.' && c != ',' {
			return 0, false
		}
	}
	lastPoint, lastComma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	var dec byte // the decimal separator, 0 for none
	switch {
	case lastPoint >= 0 && lastComma >= 0: // both: the last one separates decimals
		dec = '.'
		if lastComma > lastPoint {
			dec = ','
		}
	case lastPoint >= 0 || lastComma >= 0:
		sep, at := byte('.'), lastPoint
		if lastComma >= 0 {
			sep, at = ',', lastComma
		}
		switch {
		case strings.Count(s, string(sep)) > 1: // "1.000.000"
		case len(s)-at-1 != 3: // "100,00", "100.5"
			dec = sep
		case sep != loc.group: // "1,000" where the comma is decimal: 1.00
			dec = sep
		}
	}
	whole, frac := s, ""
	if dec != 0 {
		at := strings.LastIndexByte(s, dec)
		whole, frac = s[:at], s[at+1:]
	}
	whole, ok := ungroup(whole, dec)
	if !ok || len(frac) == 0 && dec != 0 || strings.ContainsAny(frac, ".,") {
		return 0, false
	}
	if len(frac) == 3 && frac[2] == '0' { // "1.000" read as decimal
		frac = frac[:2]
	}
	if len(frac) > 2 || len(whole) > 12 {
		return 0, false
	}
	frac = (frac + "00")[:2]
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return w*100 + f, true
}

// ungroup removes thousands separators (whichever is not dec) from the
// whole part, which must then group by three: "1.000.000", not "10.00".
func ungroup(whole string, dec byte) (string, bool) {
	group := "."
	if dec == '.' {
		group = ","
	}
	if strings.ContainsRune(whole, rune(dec)) && dec != 0 {
		return "", false
	}
	if dec == 0 && strings.Contains(whole, ".") && strings.Contains(whole, ",") {
		return "", false
	}
	if dec == 0 && strings.Contains(whole, ",") {
		group = ","
	}
	parts := strings.Split(whole, group)
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, ".,") || i > 0 && len(p) != 3 || i == 0 && len(parts) > 1 && len(p) > 3 {
			return "", false
		}
	}
	return strings.Join(parts, ""), true
}

// moneyExample is fifty euros as the locale writes it.
func moneyExample(loc moneyLocale) string { return "50" + string(loc.decimal) + "00" }

// parseCents reads a whole number of cents, as a confirmation form carries.
func parseCents(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
