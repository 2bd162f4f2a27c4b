package e2e

import (
	"net/http"
	"regexp"
)

var registrationCodeRE = regexp.MustCompile(`(?m)^    ([A-Z0-9]{10})\r?$`)

// confirmRegistration finishes a registration the tab has just sent: on
// the page asking for the code, it types the code from the mail to email.
func (tb *tab) confirmRegistration(dataDir, email string) {
	tb.t.Helper()
	tb.wantPath("/register/confirm")
	tb.wantValue("#f-email", email)
	m := registrationCodeRE.FindStringSubmatch(waitForOutboxMail(tb.t, dataDir, email, "Your registration code"))
	if m == nil {
		tb.t.Fatalf("no code in the registration mail to %s", email)
	}
	tb.fill("#f-code", m[1])
	tb.submit(`form[action="/register/confirm"] button[type=submit]`, http.StatusOK)
}
