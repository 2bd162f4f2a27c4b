package views

import (
	"context"

	"allmende/models"
)

// storedText shows a text the portal stored (a history detail, a ledger
// note, a case log line) in the reader's language: msg is its format and
// arguments, translated here; a row from before they were kept (msg zero)
// is shown as stored, in English. Text translates the messages among its
// arguments too (an organ's name in "appointed to the %s …") and writes
// days and amounts the reader's way.
func storedText(ctx context.Context, text string, msg models.Msg) string {
	if msg.Format == "" {
		return text
	}
	return msg.Text(ctx)
}

// storedTranslate is the translate attribute for a stored text: "no" for
// what a person wrote (models.Verbatim) and for a row from before, shown
// as stored (data, not to be machine-translated), "yes" for the portal's
// own messages, which storedText translates.
func storedTranslate(msg models.Msg) string {
	if msg.Format == "" || msg.Format == models.Verbatim("").Format {
		return "no"
	}
	return "yes"
}
