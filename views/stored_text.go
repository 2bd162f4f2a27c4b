package views

import (
	"context"

	"allmende/i18n"
	"allmende/models"
)

// storedText shows a text the portal stored (a history detail, a ledger
// note, a case log line) in the reader's language: msg is its format and
// arguments, translated here; a row from before they were kept (msg zero)
// is shown as stored, in English.
func storedText(ctx context.Context, text string, msg models.Msg) string {
	if msg.Format == "" {
		return text
	}
	return translateMsg(ctx, msg)
}

// translateMsg translates m and the messages among its arguments (an
// organ's name in "appointed to the %s …").
func translateMsg(ctx context.Context, m models.Msg) string {
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		if inner, ok := a.(models.Msg); ok {
			a = translateMsg(ctx, inner)
		}
		args[i] = a
	}
	return i18n.T(ctx, m.Format, args...)
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
