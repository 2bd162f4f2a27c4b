// Package views holds the templ components that render every page. It
// receives plain data and decides nothing: rules live in models.
package views

// Viewer is the signed-in account as the layout needs it; nil when anonymous.
type Viewer struct {
	Name     string
	Email    string
	IsMember bool
	IsBoard  bool
	IsAdmin  bool
	// IsSupervisory: a seat on the supervisory board (membership.Organs).
	IsSupervisory bool
	// IsModerator: works the moderation panel (admins do too);
	// IsAppeals: sits on the elected appeals committee.
	IsModerator bool
	IsAppeals   bool
	Unread      int64 // notifications not yet read, shown in the navigation
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind string // success, error, info
	Text string
}

// Page is what every page's layout needs.
type Page struct {
	Title  string
	Nav    string // active navigation entry
	Viewer *Viewer
	CSRF   string
	Flash  []Flash
	Path   string     // the page's own address, for the language switch to come back to
	Menus  *MenuCache // the handlers' drawn menus; nil draws the menu anew
}

// Form keeps what the user typed and the per-field errors, so a rejected
// form comes back filled in with the problems marked.
type Form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // a message for the whole form
}

// Value returns the submitted value of a field.
func (f Form) Value(name string) string { return f.Values[name] }

// Err returns the error of a field, or "".
func (f Form) Err(name string) string { return f.Errors[name] }
