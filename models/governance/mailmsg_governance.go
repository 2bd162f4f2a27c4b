package governance

import (
	"context"

	"allmende/i18n"
	"allmende/models/account"
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

// invitationText is the invitation with the whole agenda, as sent and as
// kept for the minutes: times in the cooperative's time zone, the place,
// how to take part online, and how the discussion phase runs (§46(1),
// §43b GenG).
func invitationText(a *assemblyRow, items []AgendaItem, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The board invites you to the general assembly %q.\n\n", a.Title)
	fmt.Fprintf(&b, "Form: %s\n", formNames[a.Form])
	if a.Place != "" {
		fmt.Fprintf(&b, "Place: %s\n", a.Place)
	}
	if a.AccessDetails != "" {
		fmt.Fprintf(&b, "Taking part online: %s\n", a.AccessDetails)
	}
	if a.DiscussionStart != nil && a.DiscussionEnd != nil {
		fmt.Fprintf(&b, "Discussion: %s to %s\n", formatIn(*a.DiscussionStart, loc), formatIn(*a.DiscussionEnd, loc))
	}
	if a.DiscussionForm != "" {
		fmt.Fprintf(&b, "How the discussion runs: %s\n", a.DiscussionForm)
	}
	fmt.Fprintf(&b, "Voting: %s to %s\n", formatIn(a.VotingStart, loc), formatIn(a.VotingEnd, loc))
	if a.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", a.Description)
	}
	b.WriteString("\nAgenda:\n")
	for _, it := range items {
		writeAgendaLine(&b, it)
	}
	return b.String()
}

func writeAgendaLine(b *strings.Builder, it AgendaItem) {
	fmt.Fprintf(b, "%d. %s", it.Position, it.Title)
	switch it.Kind {
	case ItemBylawChange, ItemBylawNewDuty:
		fmt.Fprintf(b, " (change of the bylaws, %d/%d of the votes cast needed)", it.MajorityNum, it.MajorityDen)
	case ItemElection:
		fmt.Fprintf(b, " (election, %d seat(s))", it.Seats)
	}
	if it.Secret {
		b.WriteString(" [secret ballot]")
	}
	b.WriteString("\n")
}

func mailInvitation(to, name, userID string, a *assemblyRow, text string) jobargs.SendMail {
	body := fmt.Sprintf("Hello %s,\n\n%s\n", name, text) +
		"You find the documents and the ballot in the portal under \"Assemblies\". " +
		"If you cannot take part, you may authorise another member there to vote for you until voting opens."
	return jobargs.SendMail{
		To: to, Key: "assembly.invitation:" + a.ID + ":" + userID,
		Subject: "Invitation to the general assembly: " + a.Title,
		Body:    body + membership.MailSignature,
	}
}

// supplementText announces an item added on a demand of members (§45(2),
// §46(2) GenG); it is appended to the invitation as sent.
func supplementText(a *assemblyRow, it AgendaItem, sent time.Time, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nSupplementary notice of %s: on a demand of members (§45(2) GenG) the agenda of %q is extended by\n", formatIn(sent, loc), a.Title)
	writeAgendaLine(&b, it)
	return b.String()
}

func mailSupplement(to, name, userID string, a *assemblyRow, itemID, text string) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "assembly.supplement:" + itemID + ":" + userID,
		Subject: "Supplement to the agenda of the general assembly: " + a.Title,
		Body:    fmt.Sprintf("Hello %s,\n%s", name, text) + membership.MailSignature,
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

// mailVotingOpened tells a member of the electorate that they can vote now
// (a member may turn it off; the invitation itself is required).
func mailVotingOpened(ctx context.Context, r account.Recipient, a *assemblyRow) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "assembly.voting_opened:" + a.ID + ":" + r.ID,
		Subject: i18n.T(ctx, "Voting has opened: %s", a.Title),
		Body: i18n.T(ctx, "Hello %s,\n\nvoting has opened in the general assembly %q. You can cast your vote in the portal "+
			"under \"Assemblies\" until %s.\n\nYou get this mail because you chose votes by mail on your account page.",
			r.Name, a.Title, i18n.DateTime(ctx, a.VotingEnd)) + membership.Signature(ctx),
	}
}
