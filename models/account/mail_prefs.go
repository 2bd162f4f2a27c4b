package account

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"allmende/i18n"
	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/internal/kit"
)

// Mail preferences: per kind of notification, whether it comes by mail as
// well. Every kind is mailed unless the member opted out (a row in
// mail_opt_outs); a required kind is mailed regardless.

// MailPrefs says per kind whether userID gets it by mail.
func (s *Notifications) MailPrefs(ctx context.Context, userID string) (map[Kind]bool, error) {
	var off []string
	if err := s.db.Gorm.WithContext(ctx).Table("mail_opt_outs").Where("user_id = ?", userID).Pluck("kind", &off).Error; err != nil {
		return nil, fmt.Errorf("load mail preferences: %w", err)
	}
	prefs := map[Kind]bool{}
	for _, k := range MailKinds {
		prefs[k.Kind] = true
	}
	for _, k := range off {
		if !requiredKind(Kind(k)) {
			prefs[Kind(k)] = false
		}
	}
	return prefs, nil
}

// SetMailPrefs keeps which optional kinds userID wants by mail (a kind
// missing from on is off). Required kinds cannot be switched off.
func (s *Notifications) SetMailPrefs(ctx context.Context, actor models.Actor, userID string, on map[Kind]bool) error {
	for k := range on {
		if !knownKind(k) {
			return models.Invalid(map[string]string{"mail": "Choose among the kinds of notification listed."})
		}
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM mail_opt_outs WHERE user_id = ?", userID).Error; err != nil {
			return fmt.Errorf("clear mail preferences: %w", err)
		}
		var off []string
		for _, k := range MailKinds {
			if !k.Required && !on[k.Kind] {
				off = append(off, string(k.Kind))
				if err := tx.Exec("INSERT INTO mail_opt_outs (user_id, kind) VALUES (?, ?)", userID, k.Kind).Error; err != nil {
					return fmt.Errorf("keep mail preference %s: %w", k.Kind, err)
				}
			}
		}
		return kit.RecordAudit(tx, actor, "user.mail_preferences", "user", userID, map[string]any{"not_by_mail": off})
	})
}

func requiredKind(k Kind) bool {
	for _, m := range MailKinds {
		if m.Kind == k {
			return m.Required
		}
	}
	return false
}

// wantsMail says whether userID gets kind by mail, in tx.
func wantsMail(tx *gorm.DB, userID string, kind Kind) (bool, error) {
	if requiredKind(kind) {
		return true, nil
	}
	var n int64
	if err := tx.Table("mail_opt_outs").Where("user_id = ? AND kind = ?", userID, kind).Count(&n).Error; err != nil {
		return false, fmt.Errorf("load mail preference: %w", err)
	}
	return n == 0, nil
}

// Recipient is an account a mail goes to: the address, the name to greet,
// and the language and time zone to write in.
type Recipient struct {
	ID, Email, Name string
	Language        string // the account's setting: "de", "en", or "" (English)
	TimeZone        string
}

// LoadRecipient reads the recipient data of userID in tx.
func LoadRecipient(tx *gorm.DB, userID string) (Recipient, error) {
	var r Recipient
	if err := tx.Table("users").Select("id, email, name, language, time_zone").Where("id = ?", userID).Take(&r).Error; err != nil {
		return r, fmt.Errorf("load recipient %s: %w", userID, err)
	}
	return r, nil
}

// LoadRecipients reads the recipient data of many accounts at once.
func LoadRecipients(tx *gorm.DB, userIDs []string) ([]Recipient, error) {
	var rs []Recipient
	if len(userIDs) == 0 {
		return rs, nil
	}
	if err := tx.Table("users").Select("id, email, name, language, time_zone").Where("id IN ?", userIDs).
		Order("id").Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("load recipients: %w", err)
	}
	return rs, nil
}

// Locale is the recipient's language and time zone in ctx, for writing a
// mail with i18n.T(ctx, …). An account that left the language to the
// browser gets English, as no browser is asking.
func (r Recipient) Locale(ctx context.Context) context.Context {
	lang, ok := i18n.Parse(r.Language)
	if !ok {
		lang = i18n.English
	}
	var tz *time.Location
	if r.TimeZone != "" {
		tz, _ = time.LoadLocation(r.TimeZone)
	}
	return i18n.WithLocale(ctx, i18n.NewLocale(lang, tz))
}

// AskedLocale is the locale for a mail the recipient asked for in this
// request (a password reset): the account's language when it has one,
// else the language of the request in ctx.
func (r Recipient) AskedLocale(ctx context.Context) context.Context {
	if _, ok := i18n.Parse(r.Language); ok {
		return r.Locale(ctx)
	}
	return ctx
}

// MailBuilder writes a mail to a recipient; ctx carries their language.
type MailBuilder func(ctx context.Context, r Recipient) jobargs.SendMail

// NotifyAndMail records a notification for userID in tx and, when they want
// this kind by mail (or it is required), queues the mail build writes in
// their language, in the same transaction.
func NotifyAndMail(ctx context.Context, q models.Queue, tx *gorm.DB, userID string, kind Kind, link string, m models.Msg, build MailBuilder) error {
	if err := Notify(tx, userID, kind, link, m); err != nil {
		return err
	}
	if build == nil {
		return nil
	}
	want, err := wantsMail(tx, userID, kind)
	if err != nil || !want {
		return err
	}
	return MailTo(ctx, q, tx, userID, build)
}

// MailTo queues a mail to userID in their language in tx, whatever their
// preferences: for legal notices and answers to their own requests.
func MailTo(ctx context.Context, q models.Queue, tx *gorm.DB, userID string, build MailBuilder) error {
	r, err := LoadRecipient(tx, userID)
	if err != nil {
		return err
	}
	_, err = kit.Enqueue(ctx, q, tx, build(r.Locale(ctx), r), nil)
	return err
}

// NotifyManyAndMail is NotifyAndMail for many accounts at once (every
// member when voting opens): the notifications in batches, then one mail
// for each who wants this kind by mail, in their language.
func NotifyManyAndMail(ctx context.Context, q models.Queue, tx *gorm.DB, userIDs []string, kind Kind, link string, m models.Msg, build MailBuilder) error {
	if err := NotifyMany(tx, userIDs, kind, link, m); err != nil {
		return err
	}
	if build == nil || len(userIDs) == 0 {
		return nil
	}
	off := map[string]bool{}
	if !requiredKind(kind) {
		var ids []string
		if err := tx.Table("mail_opt_outs").Where("kind = ?", kind).Pluck("user_id", &ids).Error; err != nil {
			return fmt.Errorf("load mail preferences: %w", err)
		}
		for _, id := range ids {
			off[id] = true
		}
	}
	var mails []river.JobArgs
	for start := 0; start < len(userIDs); start += 500 {
		rs, err := LoadRecipients(tx, userIDs[start:min(start+500, len(userIDs))])
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !off[r.ID] {
				mails = append(mails, build(r.Locale(ctx), r))
			}
		}
	}
	return kit.EnqueueMany(ctx, q, tx, mails)
}
