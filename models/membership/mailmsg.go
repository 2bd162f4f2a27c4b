package membership

import (
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

func mailAdmitted(to, name string, m *Membership, p rulebook.RuleParams) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.admitted:" + m.ID,
		Subject: "Welcome: you are now a member",
		Body: fmt.Sprintf("Hello %s,\n\nthe board has admitted you as a member of the cooperative "+
			"on %s. Your member number is %d.\n\n"+
			"You subscribed %d share(s) of %s each, %s in total. Once your payment has arrived, "+
			"each paid share gives you %d vCPU, %d MiB of memory and %d GiB of disk.\n\n"+
			"Welcome to the commons!",
			name, kit.FormatDate(*m.AdmittedOn), *m.MemberNumber, m.SharesApplied,
			kit.FormatCents(p.SharePriceCents), kit.FormatCents(int64(m.SharesApplied)*p.SharePriceCents),
			p.EntitlementPerShare.VCPUs, p.EntitlementPerShare.MemoryMiB, p.EntitlementPerShare.DiskGiB) + MailSignature,
	}
}

func mailRejected(to, name, key, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.rejected:" + key,
		Subject: "Your membership application",
		Body: fmt.Sprintf("Hello %s,\n\nwe are sorry: the board has decided not to admit you as a member.\n\n"+
			"The reason the board gave:\n%s\n\n"+
			"We have deleted the data of your application. If you have questions, just reply to this mail.",
			name, reason) + MailSignature,
	}
}

func mailSharesSubscribed(to, name string, m *Membership, shares, total int, p rulebook.RuleParams) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.shares:" + m.ID + ":" + fmt.Sprint(total),
		Subject: "Your additional shares",
		Body: fmt.Sprintf("Hello %s,\n\nyou subscribed %d more share(s) of %s each; you now hold %d share(s). "+
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

func mailExcluded(to, name string, m *Membership, reason string) jobargs.SendMail {
	return jobargs.SendMail{
		To: to, Key: "membership.excluded:" + m.ID,
		Subject: "You have been excluded from the cooperative",
		Body: fmt.Sprintf("Hello %s,\n\nthe cooperative has excluded you as a member with effect from %s.\n\n"+
			"The reason given:\n%s\n\nYour paid-in capital will be paid back to you. "+
			"You can still read your membership page.", name, kit.FormatDate(*m.LeftOn), reason) + MailSignature,
	}
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
