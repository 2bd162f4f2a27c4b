package governance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models/account"
	"allmende/models/membership"
)

// The mails of self-government, each written in the recipient's language
// and time zone. An invitation carries the whole agenda: the members
// decide by it whether to take part or to authorise someone.
//
// The invitation is also kept as sent, for the minutes (§47 GenG): that
// record is written once, in the portal's language (English, as the
// minutes are) with the times in the cooperative's time zone; only the
// copy each member receives is in their language.

var formNames = map[string]string{
	FormInPerson: "in person",
	FormVirtual:  "virtual (online)",
	FormHybrid:   "hybrid (in person, with online participation)",
	FormTwoPhase: "in two phases: first discussion, then voting",
}

// memberLocale is the recipient's language and time zone in ctx; an
// account without a time zone reads an assembly's times in the
// cooperative's.
func memberLocale(ctx context.Context, r account.Recipient, coop *time.Location) context.Context {
	if r.TimeZone == "" && coop != nil {
		r.TimeZone = coop.String()
	}
	return r.Locale(ctx)
}

// memberRecipients are the members in good standing, as mail recipients.
func memberRecipients(tx *gorm.DB) ([]account.Recipient, error) {
	var rs []account.Recipient
	if err := tx.Raw(`SELECT u.id, u.email, u.name, u.language, u.time_zone FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.status IN ? ORDER BY u.id`, goodStanding).Scan(&rs).Error; err != nil {
		return nil, fmt.Errorf("load members: %w", err)
	}
	return rs, nil
}

// invitationText is the invitation with the whole agenda as kept for the
// minutes: times in the cooperative's time zone, the place, how to take
// part online, and how the discussion phase runs (§46(1), §43b GenG). Its
// context carries no reader's locale, so the record is in English.
func invitationText(a *assemblyRow, items []AgendaItem, loc *time.Location) string {
	return invitation(context.Background(), a, items, func(t time.Time) string { return formatIn(t, loc) })
}

// invitation writes the invitation in the language of ctx, with the times
// formatted by when.
func invitation(ctx context.Context, a *assemblyRow, items []AgendaItem, when func(time.Time) string) string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	line(i18n.T(ctx, "The board invites you to the general assembly %q.", a.Title) + "\n")
	line(i18n.T(ctx, "Form: %s", i18n.T(ctx, formNames[a.Form])))
	if a.Place != "" {
		line(i18n.T(ctx, "Place: %s", a.Place))
	}
	if a.AccessDetails != "" {
		line(i18n.T(ctx, "Taking part online: %s", a.AccessDetails))
	}
	if a.DiscussionStart != nil && a.DiscussionEnd != nil {
		line(i18n.T(ctx, "Discussion: %s to %s", when(*a.DiscussionStart), when(*a.DiscussionEnd)))
	}
	if a.DiscussionForm != "" {
		line(i18n.T(ctx, "How the discussion runs: %s", a.DiscussionForm))
	}
	line(i18n.T(ctx, "Voting: %s to %s", when(a.VotingStart), when(a.VotingEnd)))
	if a.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", a.Description)
	}
	b.WriteString("\n" + i18n.T(ctx, "Agenda:") + "\n")
	for _, it := range items {
		writeAgendaLine(ctx, &b, it)
	}
	return b.String()
}

func writeAgendaLine(ctx context.Context, b *strings.Builder, it AgendaItem) {
	fmt.Fprintf(b, "%d. %s", it.Position, it.Title)
	switch it.Kind {
	case ItemBylawChange, ItemBylawNewDuty:
		b.WriteString(" " + i18n.T(ctx, "(change of the bylaws, %d/%d of the votes cast needed)", it.MajorityNum, it.MajorityDen))
	case ItemElection:
		b.WriteString(" " + i18n.T(ctx, "(election, %d seat(s))", it.Seats))
	}
	if it.Secret {
		b.WriteString(" " + i18n.T(ctx, "[secret ballot]"))
	}
	b.WriteString("\n")
}

// mailInvitation is the invitation a member receives, in their language
// and time zone (ctx).
func mailInvitation(ctx context.Context, r account.Recipient, a *assemblyRow, items []AgendaItem) jobargs.SendMail {
	text := invitation(ctx, a, items, func(t time.Time) string { return i18n.DateTime(ctx, t) })
	return jobargs.SendMail{
		To: r.Email, Key: "assembly.invitation:" + a.ID + ":" + r.ID,
		Subject: i18n.T(ctx, "Invitation to the general assembly: %s", a.Title),
		Body: i18n.T(ctx, "Hello %s,", r.Name) + "\n\n" + text + "\n" +
			i18n.T(ctx, "You find the documents and the ballot in the portal under \"Assemblies\". "+
				"If you cannot take part, you may authorise another member there to vote for you until voting opens.") +
			membership.Signature(ctx),
	}
}

// supplementText announces an item added on a demand of members (§45(2),
// §46(2) GenG) as appended to the invitation kept for the minutes.
func supplementText(a *assemblyRow, it AgendaItem, sent time.Time, loc *time.Location) string {
	return supplement(context.Background(), a, it, formatIn(sent, loc))
}

func supplement(ctx context.Context, a *assemblyRow, it AgendaItem, sent string) string {
	var b strings.Builder
	b.WriteString("\n" + i18n.T(ctx, "Supplementary notice of %s: on a demand of members (§45(2) GenG) the agenda of %q is extended by", sent, a.Title) + "\n")
	writeAgendaLine(ctx, &b, it)
	return b.String()
}

// mailSupplement is the supplementary notice a member receives, in their
// language and time zone (ctx).
func mailSupplement(ctx context.Context, r account.Recipient, a *assemblyRow, it AgendaItem, sent time.Time) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "assembly.supplement:" + it.ID + ":" + r.ID,
		Subject: i18n.T(ctx, "Supplement to the agenda of the general assembly: %s", a.Title),
		Body:    i18n.T(ctx, "Hello %s,", r.Name) + "\n" + supplement(ctx, a, it, i18n.DateTime(ctx, sent)) + membership.Signature(ctx),
	}
}

func mailProxyGranted(ctx context.Context, r account.Recipient, grantor, proxyID string, a *assemblyRow) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "assembly.proxy:" + proxyID,
		Subject: i18n.T(ctx, "You have been authorised to vote for another member"),
		Body: i18n.T(ctx, "Hello %s,\n\n%s has authorised you to vote on their behalf at the general assembly %q "+
			"(voting from %s to %s). You will find their ballot next to yours in the portal once voting opens.",
			r.Name, grantor, a.Title, i18n.DateTime(ctx, a.VotingStart), i18n.DateTime(ctx, a.VotingEnd)) + membership.Signature(ctx),
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
