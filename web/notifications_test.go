package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"allmende/models/account"
)

var noteReadRE = regexp.MustCompile(`action="/notifications/([^"/]+)/read"`)

// A member's admission and payment show as notifications: counted on the
// bell of every page, listed in their language, opened (marked read) one
// by one or all at once, through pages and the API. Mail preferences are
// kept from /account; another member's notification is not found.
func TestNotificationsPagesAndAPI(t *testing.T) {
	srv, base, cfg := startServer(t, "none")
	createUser(t, srv, "mia@example.org")
	createUser(t, srv, "max@example.org")
	createUser(t, srv, "anna@board.example", account.RoleBoard)
	createUser(t, srv, "ben@board.example", account.RoleBoard)
	d := openDomain(t, cfg)

	c := newClient(t, base)
	c.login("mia@example.org", "correct horse battery")
	resp, _ := c.submit("/account", "/account/preferences", url.Values{"language": {"de"}, "time_zone": {"Europe/Berlin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = c.submit("/membership", "/membership/apply", joinValues("Mia Member", "3"))
	wantStatus(t, resp, http.StatusSeeOther)
	// The board acts through a second database handle, as another portal
	// instance would: the bell of other pages may show that up to two
	// seconds late (models/account/unreadcache.go), the list counts afresh.
	admitWithPayment(t, d, 10000, "anna@board.example", "ben@board.example")

	resp, body := c.get("/notifications")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `aria-label="Benachrichtigungen: 2 ungelesen"`, `<span class="badge info" aria-hidden="true">2</span>`)
	_, body = c.get("/")
	wantContains(t, body, `href="/notifications"`, `aria-label="Benachrichtigungen: 2 ungelesen"`, `<span class="badge info" aria-hidden="true">2</span>`)
	resp, body = c.get("/notifications")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, "2 ungelesene Benachrichtigungen",
		"Willkommen: Der Vorstand hat Sie als Mitglied aufgenommen; Ihre Mitgliedsnummer ist 1.",
		"Ihre Zahlung über 100,00 €, eingegangen am "+time.Now().UTC().Format("2.1.2006")+", wurde",
		"Alle als gelesen markieren")
	ids := noteReadRE.FindAllStringSubmatch(body, -1)
	if len(ids) != 2 {
		t.Fatalf("read buttons: %v", ids)
	}
	// Open the newest: read, and on to its page.
	resp, _ = c.submit("/notifications", "/notifications/"+ids[0][1]+"/read", url.Values{"next": {"/membership"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/membership" {
		t.Errorf("opened notification goes to %q", loc)
	}
	_, body = c.get("/notifications")
	wantContains(t, body, "1 ungelesene Benachrichtigung")

	// Another member sees none of it and cannot mark it.
	other := newClient(t, base)
	other.login("max@example.org", "correct horse battery")
	resp, _ = other.submit("/notifications", "/notifications/"+ids[1][1]+"/read", url.Values{})
	wantStatus(t, resp, http.StatusNotFound)
	maxToken := tokenFor(t, d, "max@example.org")
	resp, body = other.api(http.MethodGet, "/api/v1/notifications", maxToken)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"notifications":[]`, `"unread":0`)

	// The API: listed, marked read.
	token := tokenFor(t, d, "mia@example.org")
	resp, body = c.api(http.MethodGet, "/api/v1/notifications?limit=10", token)
	wantStatus(t, resp, http.StatusOK)
	var list struct {
		Notifications []struct{ ID, Kind, Message, Link string }
		Unread        int
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Unread != 1 || len(list.Notifications) != 2 || list.Notifications[0].Kind != "payments" {
		t.Fatalf("API list: %s", body)
	}
	// The API speaks English, with amounts and days written the English way.
	if want := "Your payment of 100.00 EUR, received on " + time.Now().UTC().Format("2006-01-02") + ", has been booked on your shares."; list.Notifications[0].Message != want {
		t.Errorf("API message %q, want %q", list.Notifications[0].Message, want)
	}
	resp, _ = c.api(http.MethodGet, "/api/v1/notifications?limit=500", token)
	wantStatus(t, resp, http.StatusBadRequest)
	resp, _ = c.api(http.MethodPost, "/api/v1/notifications/"+list.Notifications[1].ID+"/read", token)
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = other.api(http.MethodPost, "/api/v1/notifications/"+list.Notifications[1].ID+"/read", maxToken)
	wantStatus(t, resp, http.StatusNotFound)
	resp, body = c.api(http.MethodPost, "/api/v1/notifications/read-all", token)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"marked":0`)
	_, body = c.get("/")
	if strings.Contains(body, `<span class="badge info" aria-hidden="true">`) {
		t.Error("the bell still counts after everything was read")
	}

	// Mail preferences: the required kinds say so, the others are kept.
	_, body = c.get("/account")
	wantContains(t, body, "Benachrichtigungen per Mail", `name="mail" value="payments" checked`,
		"immer per Mail, wie Gesetz und Satzung es verlangen.")
	resp, _ = c.submit("/account", "/account/mail", url.Values{"mail": {"votes"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/account")
	wantContains(t, body, "Ihre Mail-Einstellungen sind gespeichert.", `name="mail" value="votes" checked`)
	if strings.Contains(body, `name="mail" value="payments" checked`) {
		t.Error("payments still by mail after turning them off")
	}
	resp, _ = c.submit("/account", "/account/mail", url.Values{"mail": {"spam"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = c.get("/account")
	wantContains(t, body, "Wählen Sie unter den aufgeführten Arten von Benachrichtigungen.")
}
