package governance

import (
	"fmt"
	"strings"
	"time"

	"allmende/jobs/jobargs"
	"allmende/models/membership"
)

// The mails of self-government. An invitation carries the whole agenda:
// the members decide by it whether to take part or to authorise someone.

var formNames = map[string]string{
	FormInPerson: "in person",
	FormVirtual:  "virtual (online)",
	FormHybrid:   "hybrid (in person, with online participation)",
	FormTwoPhase: "in two phases: first discussion, then voting",
}

func formatWhen(t time.Time) string { return t.Format("2006-01-02 15:04 UTC") }

func mailInvitation(to, name, userID string, a *assemblyRow, items []AgendaItem) jobargs.SendMail {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nthe board invites you to the general assembly %q.\n\n", name, a.Title)
	fmt.Fprintf(&b, "Form: %s\n", formNames[a.Form])
	if a.DiscussionStart != nil && a.DiscussionEnd != nil {
		fmt.Fprintf(&b, "Discussion: %s to %s\n", formatWhen(a.DiscussionStart.UTC()), formatWhen(a.DiscussionEnd.UTC()))
	}
	fmt.Fprintf(&b, "Voting: %s to %s\n", formatWhen(a.VotingStart.UTC()), formatWhen(a.VotingEnd.UTC()))
	if a.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", a.Description)
	}
	b.WriteString("\nAgenda:\n")
	for _, it := range items {
		fmt.Fprintf(&b, "%d. %s", it.Position, it.Title)
		switch it.Kind {
		case ItemBylawChange, ItemBylawNewDuty:
			fmt.Fprintf(&b, " (change of the bylaws, %d/%d of the votes cast needed)", it.MajorityNum, it.MajorityDen)
		case ItemElection:
			fmt.Fprintf(&b, " (election, %d seat(s))", it.Seats)
		}
		if it.Secret {
			b.WriteString(" [secret ballot]")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nYou find the documents and the ballot in the portal under \"Assemblies\". " +
		"If you cannot take part, you may authorise another member there to vote for you until voting opens.")
	return jobargs.SendMail{
		To: to, Key: "assembly.invitation:" + a.ID + ":" + userID,
		Subject: "Invitation to the general assembly: " + a.Title,
		Body:    b.String() + membership.MailSignature,
	}
}

func mailProxyGranted(to, name, grantor, proxyID string, a *assemblyRow) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "assembly.proxy:" + proxyID,
		Subject: "You have been authorised to vote for another member",
		Body: fmt.Sprintf("Hello %s,\n\n%s has authorised you to vote on their behalf at the general assembly %q "+
			"(voting from %s to %s). You will find their ballot next to yours in the portal once voting opens.",
			name, grantor, a.Title, formatWhen(a.VotingStart.UTC()), formatWhen(a.VotingEnd.UTC())) + membership.MailSignature,
	}
}
