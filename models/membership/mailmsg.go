package membership

import (
	"context"
	"fmt"
	"strings"
	"time"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models/account"
	"allmende/models/rulebook"
)

// The membership mails, each written in the recipient's language (ctx
// carries it, see account.Recipient.Locale). They greet by the account
// name and never repeat the application's personal data (legal name,
// address, IBAN): a queued job outlives a rejection, which must leave none
// of that behind.

// MailSignature is the English signature, for mails of other domains not
// yet written in the recipient's language.
const MailSignature = "\n\nKind regards,\nthe board of the cooperative\n"

// Signature ends a mail in the recipient's language (ctx).
func Signature(ctx context.Context) string {
	return i18n.T(ctx, "\n\nKind regards,\nthe board of the cooperative\n")
}

func mailApplicationReceived(ctx context.Context, r account.Recipient, m *Membership) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.applied:" + m.ID,
		Subject: i18n.T(ctx, "We received your membership application"),
		Body: i18n.T(ctx, "Hello %s,\n\nthank you for applying to become a member of the cooperative. "+
			"We received your application for %d share(s) and your acceptance of the bylaws, version %s.\n\n"+
			"The board will look at it soon; we will write to you again when it has decided.",
			r.Name, m.SharesApplied, m.BylawsVersion) + Signature(ctx),
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

func mailSharesSubscribed(ctx context.Context, r account.Recipient, m *Membership, shares, total int, p rulebook.RuleParams) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.shares:" + m.ID + ":" + fmt.Sprint(total),
		Subject: i18n.T(ctx, "Your additional shares"),
		Body: i18n.T(ctx, "Hello %s,\n\nthe board admitted your %d further share(s) of %s each; you now hold %d share(s). "+
			"Please pay in %s; the additional resources are yours once the payment has arrived.",
			r.Name, shares, i18n.Money(ctx, p.SharePriceCents), total, i18n.Money(ctx, int64(shares)*p.SharePriceCents)) + Signature(ctx),
	}
}

func mailNoticeConfirmed(ctx context.Context, r account.Recipient, n *Notice) jobargs.SendMail {
	what := i18n.T(ctx, "your whole membership")
	if n.Shares > 0 {
		what = i18n.T(ctx, "%d of your shares", n.Shares)
	}
	return jobargs.SendMail{
		To: r.Email, Key: "membership.notice:" + n.ID,
		Subject: i18n.T(ctx, "Your notice is confirmed"),
		Body: i18n.T(ctx, "Hello %s,\n\nwe confirm your notice on %s, given on %s. "+
			"It takes effect at the end of the business year on %s.\n\n"+
			"Until then nothing changes, and you can withdraw the notice on your membership page.",
			r.Name, what, i18n.Date(ctx, n.GivenOn), i18n.Date(ctx, n.EffectiveOn)) + Signature(ctx),
	}
}

func mailNoticeWithdrawn(ctx context.Context, r account.Recipient, n *Notice) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.notice_withdrawn:" + n.ID,
		Subject: i18n.T(ctx, "Your notice is withdrawn"),
		Body: i18n.T(ctx, "Hello %s,\n\nyou withdrew your notice of %s; it will not take effect. "+
			"We are glad you stay!", r.Name, i18n.Date(ctx, n.GivenOn)) + Signature(ctx),
	}
}

func refundText(ctx context.Context, refundCents int64, due time.Time) string {
	if refundCents > 0 {
		return i18n.T(ctx, "Your paid-in capital of %s will be paid back to you by %s.", i18n.Money(ctx, refundCents), i18n.Date(ctx, due))
	}
	return i18n.T(ctx, "No paid-in capital is due back to you.")
}

func mailMembershipEnded(ctx context.Context, r account.Recipient, m *Membership, refundCents int64, due time.Time) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.ended:" + m.ID,
		Subject: i18n.T(ctx, "Your membership has ended"),
		Body: i18n.T(ctx, "Hello %s,\n\nas you gave notice, your membership ended on %s. %s\n\n"+
			"You can still read your membership page. Thank you for being part of the cooperative.",
			r.Name, i18n.Date(ctx, *m.LeftOn), refundText(ctx, refundCents, due)) + Signature(ctx),
	}
}

func mailSharesCancelled(ctx context.Context, r account.Recipient, n *Notice, refundCents int64, due time.Time) jobargs.SendMail {
	refund := ""
	if refundCents > 0 {
		refund = " " + i18n.T(ctx, "%s of your paid-in capital will be paid back to you by %s.", i18n.Money(ctx, refundCents), i18n.Date(ctx, due))
	}
	return jobargs.SendMail{
		To: r.Email, Key: "membership.shares_cancelled:" + n.ID,
		Subject: i18n.T(ctx, "Your notice on shares has taken effect"),
		Body: i18n.T(ctx, "Hello %s,\n\nyour notice on %d share(s) took effect on %s.",
			r.Name, n.Shares, i18n.Date(ctx, n.EffectiveOn)) + refund + Signature(ctx),
	}
}

func mailExcluded(ctx context.Context, r account.Recipient, m *Membership, reason string, refundCents int64, due time.Time) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.excluded:" + m.ID,
		Subject: i18n.T(ctx, "Your membership has ended by exclusion"),
		Body: i18n.T(ctx, "Hello %s,\n\nas the registered letter told you, the cooperative excluded you (%s). "+
			"Your membership ended with the business year on %s. %s\n\n"+
			"You can still read your membership page.", r.Name, reason, i18n.Date(ctx, *m.LeftOn), refundText(ctx, refundCents, due)) + Signature(ctx),
	}
}

// bodyName is the deciding body ("the board") in the recipient's language,
// capitalised to begin a sentence.
func bodyName(ctx context.Context, body string) string {
	return capitalize(i18n.T(ctx, BodyTitle(body)))
}

func mailExclusionOpened(ctx context.Context, r account.Recipient, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.exclusion_opened:" + x.ID,
		Subject: i18n.T(ctx, "The board intends to exclude you: you are invited to be heard"),
		Body: i18n.T(ctx, "Hello %s,\n\nthe board has opened proceedings to exclude you from the cooperative "+
			"(§68 GenG) for this reason of the bylaws:\n%s\n\nThe facts:\n%s\n\n"+
			"Before anything is decided you have the right to be heard. Give your statement on your membership "+
			"page in the portal, or reply in writing, by %s. %s decides only after that.",
			r.Name, x.Reason, x.Facts, i18n.Date(ctx, x.HearingDeadline), bodyName(ctx, x.Body)) + Signature(ctx),
	}
}

func mailExclusionDismissed(ctx context.Context, r account.Recipient, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.exclusion_dismissed:" + x.ID,
		Subject: i18n.T(ctx, "You will not be excluded"),
		Body: i18n.T(ctx, "Hello %s,\n\n%s decided on %s not to exclude you. The proceedings are closed.",
			r.Name, bodyName(ctx, x.Body), i18n.Date(ctx, *x.DecidedOn)) + Signature(ctx),
	}
}

// mailExclusionLetter is a copy of the registered letter, which is what
// counts (§68(2) GenG).
func mailExclusionLetter(ctx context.Context, r account.Recipient, x *Exclusion) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.exclusion_letter:" + x.ID,
		Subject: i18n.T(ctx, "Copy: the decision to exclude you"),
		Body: i18n.T(ctx, "Hello %s,\n\n%s decided on %s to exclude you from the cooperative for this reason "+
			"of the bylaws:\n%s\n\nThe decision was sent to you by registered letter on %s. From that day you can no "+
			"longer take part in the general assembly or sit on the board or the supervisory board. Your membership "+
			"ends at the end of the business year, on %s; your paid-in capital is paid back from then (§73 GenG).",
			r.Name, bodyName(ctx, x.Body), i18n.Date(ctx, *x.DecidedOn), x.Reason,
			i18n.Date(ctx, *x.LetterSentOn), i18n.Date(ctx, *x.EffectiveOn)) + Signature(ctx),
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func mailAppointed(ctx context.Context, r account.Recipient, a *Appointment) jobargs.SendMail {
	organ := i18n.T(ctx, a.Organ.Title())
	how := i18n.T(ctx, "elected by the general assembly")
	if a.Source == SourceDecision {
		how = i18n.T(ctx, "appointed by decision of %s", i18n.T(ctx, BodyTitle(a.Body)))
	}
	return jobargs.SendMail{
		To: r.Email, Key: "organ.appointed:" + a.ID,
		Subject: i18n.T(ctx, "Your appointment: %s", organ),
		Body: i18n.T(ctx, "Hello %s,\n\nyou were %s to the office of %s of the cooperative on %s, "+
			"for the term from %s to %s. The portal gives you the rights of the office while the term runs "+
			"and you remain a member in good standing.",
			r.Name, how, organ, i18n.Date(ctx, a.DecidedOn),
			i18n.Date(ctx, a.TermStart), i18n.Date(ctx, a.TermEnd)) + Signature(ctx),
	}
}

func mailSharesDeclared(ctx context.Context, r account.Recipient, sub *FurtherShares) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.shares_declared:" + sub.ID,
		Subject: i18n.T(ctx, "We received your subscription of further shares"),
		Body: i18n.T(ctx, "Hello %s,\n\nwe received your declaration:\n\n%s\n\nThe board decides on it soon; "+
			"the shares count from their admission.", r.Name, sub.Declaration) + Signature(ctx),
	}
}

func mailSharesRejected(ctx context.Context, r account.Recipient, sub *FurtherShares, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.shares_rejected:" + sub.ID,
		Subject: i18n.T(ctx, "Your subscription of further shares"),
		Body: i18n.T(ctx, "Hello %s,\n\nthe board did not admit your subscription of %d further share(s).\n\n"+
			"The reason the board gave:\n%s", r.Name, sub.Shares, reason) + Signature(ctx),
	}
}

func mailNoticeWithdrawalRefused(ctx context.Context, r account.Recipient, n *Notice) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.notice_withdraw_refused:" + n.ID,
		Subject: i18n.T(ctx, "Your notice stays in force"),
		Body: i18n.T(ctx, "Hello %s,\n\nthe board did not agree to the withdrawal of your notice of %s; "+
			"it takes effect on %s as given.", r.Name, i18n.Date(ctx, n.GivenOn), i18n.Date(ctx, n.EffectiveOn)) + Signature(ctx),
	}
}

func mailTransferProposed(ctx context.Context, r account.Recipient, t *CapitalTransfer) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.transfer_proposed:" + t.ID,
		Subject: i18n.T(ctx, "A member proposes to transfer capital to you"),
		Body: i18n.T(ctx, "Hello %s,\n\na member proposes this agreement to you:\n\n%s\n\n"+
			"If you agree, confirm it on your membership page; the board then carries it out.", r.Name, t.Agreement) + Signature(ctx),
	}
}

func mailTransferExecuted(ctx context.Context, r account.Recipient, t *CapitalTransfer) jobargs.SendMail {
	return jobargs.SendMail{
		To: r.Email, Key: "membership.transfer_executed:" + t.ID + ":" + r.Email,
		Subject: i18n.T(ctx, "The transfer of capital has been carried out"),
		Body:    i18n.T(ctx, "Hello %s,\n\nthe board has carried out this agreement today:\n\n%s", r.Name, t.Agreement) + Signature(ctx),
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
