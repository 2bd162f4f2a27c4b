package membership

import "strings"

// normalizeIBAN removes spaces and uppercases, the form in which an IBAN is
// stored and checked.
func normalizeIBAN(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// validIBAN checks the form (country code, check digits, up to 30
// alphanumerics) and the ISO 7064 mod-97 checksum of a normalised IBAN. It
// catches typos; whether the account exists only the bank knows.
func validIBAN(iban string) bool {
	if len(iban) < 15 || len(iban) > 34 {
		return false
	}
	for i, c := range iban {
		switch {
		case i < 2 && (c < 'A' || c > 'Z'):
			return false
		case i >= 2 && i < 4 && (c < '0' || c > '9'):
			return false
		case (c < '0' || c > '9') && (c < 'A' || c > 'Z'):
			return false
		}
	}
	// Move the first four characters to the end, read letters as 10..35,
	// and take the remainder digit by digit so no big integers are needed.
	rem := 0
	for _, c := range iban[4:] + iban[:4] {
		if c >= 'A' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem == 1
}

// NormalizeIBAN and ValidIBAN are the same checks for other domains (the
// creditor account of a direct-debit file, models/metering).
func NormalizeIBAN(s string) string { return normalizeIBAN(s) }
func ValidIBAN(iban string) bool    { return validIBAN(iban) }
