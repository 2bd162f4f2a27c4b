package handlers

import "testing"

func TestMoneyParse(t *testing.T) {
	for _, c := range []struct {
		in     string
		de, en int64 // -1: refused
	}{
		{"100", 10000, 10000},
		{"100,00", 10000, 10000},
		{"100.00", 10000, 10000},
		{"100,5", 10050, 10050},
		{"0,99", 99, 99},
		{",50", -1, -1},
		{"1.000,50", 100050, 100050},
		{"1,000.50", 100050, 100050},
		{"1.000.000", 100000000, 100000000},
		{"1,000,000.25", 100000025, 100000025},
		{"€ 100,00", 10000, 10000},
		{"100 €", 10000, 10000},
		{"EUR 100.00", 10000, 10000},
		{"100,00 EUR", 10000, 10000},
		{"1 000,50", 100050, 100050},
		// One separator and three digits: the locale decides.
		{"1.000", 100000, 100},
		{"1,000", 100, 100000},
		{"1,500", 150, 150000},
		{"12.345", 1234500, -1},
		// Refused.
		{"", -1, -1},
		{"abc", -1, -1},
		{"-5", -1, -1},
		{"10.00.00", -1, -1},
		{"1,00.50", -1, -1},
		{"1.0000", -1, -1},
		{"100,001", -1, 10000100},
		{"1,005", -1, 100500},
		{"1..0", -1, -1},
		{"100.", -1, -1},
		{"1e3", -1, -1},
		{"1.000,50.25", -1, -1},
		{"10000000000000", -1, -1},
	} {
		for _, l := range []struct {
			name string
			loc  moneyLocale
			want int64
		}{{"de", commaDecimal, c.de}, {"en", pointDecimal, c.en}} {
			got, ok := parseMoney(c.in, l.loc)
			if !ok {
				got = -1
			}
			if got != l.want {
				t.Errorf("parseMoney(%q, %s) = %d, %v; want %d", c.in, l.name, got, ok, l.want)
			}
		}
	}
}

func TestMoneyLocale(t *testing.T) {
	for h, want := range map[string]moneyLocale{
		"":                                   pointDecimal,
		"de-DE,de;q=0.9,en;q=0.8":            commaDecimal,
		"en-US,en;q=0.9":                     pointDecimal,
		"en;q=0.5, de-AT":                    commaDecimal,
		"fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5": commaDecimal,
		"*":                                  pointDecimal,
		"ja":                                 pointDecimal,
	} {
		if got := localeFromAcceptLanguage(h); got != want {
			t.Errorf("localeFromAcceptLanguage(%q) = %c, want %c", h, got.decimal, want.decimal)
		}
	}
}
