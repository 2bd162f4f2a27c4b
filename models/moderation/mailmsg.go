package moderation

import (
	"context"
	"strings"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models/account"
	"allmende/models/membership"
)

// The moderation mails, each written in the recipient's language and time
// zone (ctx carries them, see account.Recipient.Locale).

// mailSanction tells the member of a sanction: what, why, the rule, the
// end, and where to see the evidence and appeal. It never names who
// reported.
func mailSanction(ctx context.Context, r account.Recipient, s *Sanction, vmName string, appealDays int) jobargs.SendMail {
	kind := i18n.T(ctx, SanctionTitle(s.Kind))
	var b strings.Builder
	b.WriteString(i18n.T(ctx, "Hello %s,\n\nthe moderators have applied step %d of the cooperative's ladder of sanctions: %s", r.Name, s.Step, kind))
	if vmName != "" {
		b.WriteString(i18n.T(ctx, " on your virtual machine %s", vmName))
	}
	b.WriteString(".\n\n" + i18n.T(ctx, "Why: %s", s.Reason) + "\n" + i18n.T(ctx, "Rule: %s", s.RuleText) + "\n")
	if s.EndsAt != nil {
		b.WriteString(i18n.T(ctx, "Until: %s", i18n.DateTime(ctx, *s.EndsAt)) + "\n")
	}
	if s.Emergency {
		b.WriteString(i18n.T(ctx, "This is an emergency suspension: it ends by itself unless a second moderator confirms it.") + "\n")
	}
	b.WriteString("\n" + i18n.T(ctx, "You find the evidence under \"Reports & sanctions\" in the portal. You may appeal there once, "+
		"within %d days; the elected appeals committee decides.", appealDays))
	return jobargs.SendMail{To: r.Email, Key: "moderation.sanction:" + s.ID,
		Subject: i18n.T(ctx, "A sanction of the cooperative: %s", kind), Body: b.String() + membership.Signature(ctx)}
}

// mailDecision tells the member how the appeals committee decided.
func mailDecision(ctx context.Context, r account.Recipient, a *Appeal, outcome, reason string) jobargs.SendMail {
	o := i18n.T(ctx, AppealOutcomeTitle(outcome))
	return jobargs.SendMail{To: r.Email, Key: "moderation.appeal:" + a.ID,
		Subject: i18n.T(ctx, "Your appeal has been decided: %s", o),
		Body: i18n.T(ctx, "Hello %s,\n\nthe elected appeals committee has decided your appeal: %s.\n\nReason: %s\n",
			r.Name, o, reason) + membership.Signature(ctx)}
}
