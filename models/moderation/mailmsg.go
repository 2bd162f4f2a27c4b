package moderation

import (
	"allmende/jobs/jobargs"
	"allmende/models/membership"
	"fmt"
	"strings"
)

// mailSanction tells the member of a sanction: what, why, the rule, the
// end, and where to see the evidence and appeal. It never names who
// reported.
func mailSanction(to, name string, s *Sanction, vmName string, appealDays int) jobargs.SendMail {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nthe moderators have applied step %d of the cooperative's ladder of sanctions: %s", name, s.Step, s.Kind)
	if vmName != "" {
		fmt.Fprintf(&b, " on your virtual machine %s", vmName)
	}
	fmt.Fprintf(&b, ".\n\nWhy: %s\nRule: %s\n", s.Reason, s.RuleText)
	if s.EndsAt != nil {
		fmt.Fprintf(&b, "Until: %s\n", s.EndsAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if s.Emergency {
		b.WriteString("This is an emergency suspension: it ends by itself unless a second moderator confirms it.\n")
	}
	fmt.Fprintf(&b, "\nYou find the evidence under \"Reports & sanctions\" in the portal. You may appeal there once, "+
		"within %d days; the elected appeals committee decides.", appealDays)
	return jobargs.SendMail{To: to, Key: "moderation.sanction:" + s.ID,
		Subject: "A sanction of the cooperative: " + s.Kind, Body: b.String() + membership.MailSignature}
}

// mailDecision tells the member how the appeals committee decided.
func mailDecision(to, name string, a *Appeal, outcome, reason string) jobargs.SendMail {
	return jobargs.SendMail{To: to, Key: "moderation.appeal:" + a.ID,
		Subject: "Your appeal has been decided: " + outcome,
		Body: fmt.Sprintf("Hello %s,\n\nthe elected appeals committee has decided your appeal: %s.\n\nReason: %s\n",
			name, outcome, reason) + membership.MailSignature}
}
