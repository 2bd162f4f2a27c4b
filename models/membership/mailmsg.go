package membership

import (
	"context"

	"allmende/i18n"
	"allmende/models/account"
	"fmt"
	"strings"
	"time"

	"allmende/jobs/jobargs"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// The membership mails. They greet by the account name and never repeat the
// application's personal data (legal name, address, IBAN): a queued job
// outlives a rejection, which must leave none of that behind.

const MailSignature = "\n\nKind regards,\nthe board of the cooperative\n"

// Signature ends a mail in the recipient's language (ctx).
func Signature(ctx context.Context) string {
	return i18n.T(ctx, "\n\nKind regards,\nthe board of the cooperative\n")
}

func mailApplicationReceived(to, name string, m *Membership) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.applied:" + m.ID,
		Subject: "We received your membership application",
		Body: fmt.Sprintf("Hello %s,\n\nthank you for applying to become a member of the cooperative. "+
			"We received your application for %d share(s) and your acceptance of the bylaws, version %s.\n\n"+
			"The board will look at it soon; we will write to you again when it has decided.",
			name, m.SharesApplied, m.BylawsVersion) + MailSignature,
	}
}

func mailAdmitted(ctx context.Context, r account.Recipient, m *Membership, p rulebook.RuleParams) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.admitted:" + m.ID,
		Subject: i18n.T(ctx, "Welcome: you are now a member"),
		Body: i18n.T(ctx, "Hello %s,\n\nthe board has admitted you as a member of the cooperative "+
			"on %s. Your member number is %d.\n\n"+
			"You subscribed %d share(s) of %s each, %s in total. Once your payment has arrived, "+
			"each paid share gives you %d vCPU, %d MiB of memory and %d GiB of disk.\n\n"+
			"Welcome to the commons!",
			r.Name, i18n.Date(ctx, *m.AdmittedOn), *m.MemberNumber, m.SharesApplied,
			i18n.Money(ctx, p.SharePriceCents), i18n.Money(ctx, int64(m.SharesApplied)*p.SharePriceCents),
			p.EntitlementPerShare.VCPUs, p.EntitlementPerShare.MemoryMiB, p.EntitlementPerShare.DiskGiB) + Signature(ctx),
	}
}

func mailRejected(ctx context.Context, r account.Recipient, key, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.rejected:" + key,
		Subject: i18n.T(ctx, "Your membership application"),
		Body: i18n.T(ctx, "Hello %s,\n\nwe are sorry: the board has decided not to admit you as a member.\n\n"+
			"The reason the board gave:\n%s\n\n"+
			"We have deleted the data of your application. If you have questions, just reply to this mail.",
			r.Name, reason) + Signature(ctx),
	}
}

func mailSharesSubscribed(to, name string, m *Membership, shares, total int, p rulebook.RuleParams) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.shares:" + m.ID + ":" + fmt.Sprint(total),
		Subject: "Your additional shares",
		Body: fmt.Sprintf("Hello %s,\n\nthe board admitted your %d further share(s) of %s each; you now hold %d share(s). "+
			"Please pay in %s; the additional resources are yours once the payment has arrived.",
			name, shares, kit.FormatCents(p.SharePriceCents), total, kit.FormatCents(int64(shares)*p.SharePriceCents)) + MailSignature,
	}
}

func mailNoticeConfirmed(to, name string, n *Notice) jobargs.SendMail {
	what := "your whole membership"
	if n.Shares > 0 {
		what = fmt.Sprintf("%d of your shares", n.Shares)
	}
	return jobargs.SendMail{
		To: to, Key: "membership.notice:" + n.ID,
		Subject: "Your notice is confirmed",
		Body: fmt.Sprintf("Hello %s,\n\nwe confirm your notice on %s, given on %s. "+
			"It takes effect at the end of the business year on %s.\n\n"+
			"Until then nothing changes, and you can withdraw the notice on your membership page.",
			name, what, kit.FormatDate(n.GivenOn), kit.FormatDate(n.EffectiveOn)) + MailSignature,
	}
}

func mailNoticeWithdrawn(to, name string, n *Notice) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.notice_withdrawn:" + n.ID,
		Subject: "Your notice is withdrawn",
		Body: fmt.Sprintf("Hello %s,\n\nyou withdrew your notice of %s; it will not take effect. "+
			"We are glad you stay!", name, kit.FormatDate(n.GivenOn)) + MailSignature,
	}
}

func mailMembershipEnded(to, name string, m *Membership, refundCents int64, due time.Time) jobargs.SendMail {
	refund := "No paid-in capital is due back to you."
	if refundCents > 0 {
		refund = fmt.Sprintf("Your paid-in capital of %s will be paid back to you by %s.", kit.FormatCents(refundCents), kit.FormatDate(due))
	}
	return jobargs.SendMail{
		To: to, Key: "membership.ended:" + m.ID,
		Subject: "Your membership has ended",
		Body: fmt.Sprintf("Hello %s,\n\nas you gave notice, your membership ended on %s. %s\n\n"+
			"You can still read your membership page. Thank you for being part of the cooperative.",
			name, kit.FormatDate(*m.LeftOn), refund) + MailSignature,
	}
}

func mailSharesCancelled(to, name string, n *Notice, refundCents int64, due time.Time) jobargs.SendMail {
	refund := ""
	if refundCents > 0 {
		refund = fmt.Sprintf(" %s of your paid-in capital will be paid back to you by %s.", kit.FormatCents(refundCents), kit.FormatDate(due))
	}
	return jobargs.SendMail{
		To: to, Key: "membership.shares_cancelled:" + n.ID,
		Subject: "Your notice on shares has taken effect",
		Body: fmt.Sprintf("Hello %s,\n\nyour notice on %d share(s) took effect on %s.%s",
			name, n.Shares, kit.FormatDate(n.EffectiveOn), refund) + MailSignature,
	}
}

func mailExcluded(to, name string, m *Membership, reason string, refundCents int64, due time.Time) jobargs.SendMail {
	refund := "No paid-in capital is due back to you."
	if refundCents > 0 {
		refund = fmt.Sprintf("Your paid-in capital of %s will be paid back to you by %s.", kit.FormatCents(refundCents), kit.FormatDate(due))
	}
	return jobargs.SendMail{
		To: to, Key: "membership.excluded:" + m.ID,
		Subject: "Your membership has ended by exclusion",
		Body: fmt.Sprintf("Hello %s,\n\nas the registered letter told you, the cooperative excluded you (%s). "+
			"Your membership ended with the business year on %s. %s\n\n"+
			"You can still read your membership page.", name, reason, kit.FormatDate(*m.LeftOn), refund) + MailSignature,
	}
}

func mailExclusionOpened(to, name string, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.exclusion_opened:" + x.ID,
		Subject: "The board intends to exclude you: you are invited to be heard",
		Body: fmt.Sprintf("Hello %s,\n\nthe board has opened proceedings to exclude you from the cooperative "+
			"(§68 GenG) for this reason of the bylaws:\n%s\n\nThe facts:\n%s\n\n"+
			"Before anything is decided you have the right to be heard. Give your statement on your membership "+
			"page in the portal, or reply in writing, by %s. %s decides only after that.",
			name, x.Reason, x.Facts, kit.FormatDate(x.HearingDeadline), capitalize(BodyTitle(x.Body))) + MailSignature,
	}
}

func mailExclusionDismissed(to, name string, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.exclusion_dismissed:" + x.ID,
		Subject: "You will not be excluded",
		Body: fmt.Sprintf("Hello %s,\n\n%s decided on %s not to exclude you. The proceedings are closed.",
			name, capitalize(BodyTitle(x.Body)), kit.FormatDate(*x.DecidedOn)) + MailSignature,
	}
}

// mailExclusionLetter is a copy of the registered letter, which is what
// counts (§68(2) GenG).
func mailExclusionLetter(to, name string, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.exclusion_letter:" + x.ID,
		Subject: "Copy: the decision to exclude you",
		Body: fmt.Sprintf("Hello %s,\n\n%s decided on %s to exclude you from the cooperative for this reason "+
			"of the bylaws:\n%s\n\nThe decision was sent to you by registered letter on %s. From that day you can no "+
			"longer take part in the general assembly or sit on the board or the supervisory board. Your membership "+
			"ends at the end of the business year, on %s; your paid-in capital is paid back from then (§73 GenG).",
			name, capitalize(BodyTitle(x.Body)), kit.FormatDate(*x.DecidedOn), x.Reason,
			kit.FormatDate(*x.LetterSentOn), kit.FormatDate(*x.EffectiveOn)) + MailSignature,
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func mailAppointed(to, name string, a *Appointment) jobargs.SendMail {
	how := "elected by the general assembly"
	if a.Source == SourceDecision {
		how = "appointed by decision of the " + strings.ReplaceAll(a.Body, "_", " ")
	}
	return jobargs.SendMail{
		To: to, Key: "organ.appointed:" + a.ID,
		Subject: "Your appointment to the " + strings.ToLower(a.Organ.Title()),
		Body: fmt.Sprintf("Hello %s,\n\nyou were %s to the %s of the cooperative on %s, "+
			"for the term from %s to %s. The portal gives you the rights of the office while the term runs "+
			"and you remain a member in good standing.",
			name, how, strings.ToLower(a.Organ.Title()), kit.FormatDate(a.DecidedOn),
			kit.FormatDate(a.TermStart), kit.FormatDate(a.TermEnd)) + MailSignature,
	}
}

func mailSharesDeclared(to, name string, sub *FurtherShares) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.shares_declared:" + sub.ID,
		Subject: "We received your subscription of further shares",
		Body: fmt.Sprintf("Hello %s,\n\nwe received your declaration:\n\n%s\n\nThe board decides on it soon; "+
			"the shares count from their admission.", name, sub.Declaration) + MailSignature,
	}
}

func mailSharesRejected(to, name string, sub *FurtherShares, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.shares_rejected:" + sub.ID,
		Subject: "Your subscription of further shares",
		Body: fmt.Sprintf("Hello %s,\n\nthe board did not admit your subscription of %d further share(s).\n\n"+
			"The reason the board gave:\n%s", name, sub.Shares, reason) + MailSignature,
	}
}

func mailNoticeWithdrawalRefused(to, name string, n *Notice) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.notice_withdraw_refused:" + n.ID,
		Subject: "Your notice stays in force",
		Body: fmt.Sprintf("Hello %s,\n\nthe board did not agree to the withdrawal of your notice of %s; "+
			"it takes effect on %s as given.", name, kit.FormatDate(n.GivenOn), kit.FormatDate(n.EffectiveOn)) + MailSignature,
	}
}

func mailTransferProposed(to, name string, t *CapitalTransfer) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.transfer_proposed:" + t.ID,
		Subject: "A member proposes to transfer capital to you",
		Body: fmt.Sprintf("Hello %s,\n\na member proposes this agreement to you:\n\n%s\n\n"+
			"If you agree, confirm it on your membership page; the board then carries it out.", name, t.Agreement) + MailSignature,
	}
}

func mailTransferExecuted(to, name string, t *CapitalTransfer) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.transfer_executed:" + t.ID + ":" + to,
		Subject: "The transfer of capital has been carried out",
		Body:    fmt.Sprintf("Hello %s,\n\nthe board has carried out this agreement today:\n\n%s", name, t.Agreement) + MailSignature,
	}
}

func mailPaymentBooked(ctx context.Context, r account.Recipient, t *CapitalTransaction) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.payment:" + t.ID,
		Subject: i18n.T(ctx, "Your payment has been booked"),
		Body: i18n.T(ctx, "Hello %s,\n\nyour payment of %s, received on %s, has been booked on your shares. "+
			"Your membership page shows what you have paid in and what is still owed.\n\n"+
			"You get this mail because you chose payments by mail on your account page.",
			r.Name, i18n.Money(ctx, t.AmountCents), i18n.Date(ctx, t.EffectiveDate)) + Signature(ctx),
	}
}
