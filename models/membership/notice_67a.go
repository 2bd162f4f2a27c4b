package membership

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"allmende/jobs/jobargs"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// ExtraordinaryRight is a member's right of extraordinary notice after a
// change of the bylaws of a kind §67a(1) GenG names: the resolution (an
// agenda item), the day it was taken and the last day of the month in
// which notice can be given.
type ExtraordinaryRight struct {
	ItemID, AssemblyID, Title string
	ResolvedAt, Until         time.Time
}

// RightsFunc lists userID's §67a rights open at now, inside tx. The
// governance domain (ranked above this one) keeps resolutions and
// objections and hands the function in at wiring; only members who
// declared an objection for the minutes hold the right there.
type RightsFunc func(tx *gorm.DB, userID string, now time.Time) ([]ExtraordinaryRight, error)

// SetExtraordinaryRights hands in governance's §67a rights; call it once
// while wiring up.
func (s *Memberships) SetExtraordinaryRights(f RightsFunc) { s.rights = f }

// ExtraordinaryRights lists the §67a rights userID can still use: open in
// governance and not already used by a notice.
func (s *Memberships) ExtraordinaryRights(ctx context.Context, userID string) ([]ExtraordinaryRight, error) {
	return s.openRights(s.db.Gorm.WithContext(ctx), userID)
}

func (s *Memberships) openRights(tx *gorm.DB, userID string) ([]ExtraordinaryRight, error) {
	if s.rights == nil {
		return nil, nil
	}
	all, err := s.rights(tx, userID, s.now())
	if err != nil {
		return nil, err
	}
	var used []string
	if err := tx.Raw(`SELECT n.resolution_ref FROM notices n JOIN memberships m ON m.id = n.membership_id
		WHERE m.user_id = ? AND n.kind = ? AND n.withdrawn_at IS NULL`, userID, NoticeExtraordinary67a).Scan(&used).Error; err != nil {
		return nil, fmt.Errorf("load §67a notices of %s: %w", userID, err)
	}
	out := all[:0:0]
	for _, r := range all {
		if !contains(used, r.ItemID) {
			out = append(out, r)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// GiveExtraordinaryNotice is the notice of §67a GenG on the resolution
// itemID: open within one month of the resolution to a member who
// declared an objection to it for the minutes. The membership ends at the
// end of the business year in which the notice is given (§67a(2)), and
// the change of the bylaws neither binds nor favours the member; both are
// recorded on the notice and in the register. It supersedes an open
// ordinary or early notice, which could not end the membership sooner.
func (s *Memberships) GiveExtraordinaryNotice(ctx context.Context, actor models.Actor, userID, itemID string) (*Notice, error) {
	var n *Notice
	err := s.tx(ctx, func(tx *gorm.DB) error {
		m, err := latestMembership(tx, userID, true)
		if err != nil {
			return err
		}
		if m.Status != StatusMember && m.Status != StatusLeaving {
			return models.Conflict("Only members can give notice.")
		}
		if actor.UserID != userID {
			return models.Forbidden("Only the member can give their notice.")
		}
		rights, err := s.openRights(tx, userID)
		if err != nil {
			return err
		}
		var right *ExtraordinaryRight
		for i := range rights {
			if rights[i].ItemID == itemID {
				right = &rights[i]
			}
		}
		if right == nil {
			return models.Conflict("You have no right of extraordinary notice from this resolution: §67a GenG gives it, for one month after a change of the bylaws of the kinds it names, to members who declared an objection to it for the minutes (and it can be used once).")
		}
		var open int64
		if err := tx.Model(&Notice{}).Where("membership_id = ? AND kind = ? AND withdrawn_at IS NULL AND processed_at IS NULL", m.ID, NoticeExtraordinary67a).Count(&open).Error; err != nil {
			return fmt.Errorf("count §67a notices: %w", err)
		}
		if open > 0 {
			return models.Conflict("You have already given extraordinary notice; your membership ends at the end of this business year.")
		}
		p, err := rulebook.RulesAt(tx, s.now())
		if err != nil {
			return err
		}
		today := s.today()
		notBinding := models.Msgf("The change of the bylaws “%s” resolved on %s does not bind this member, for or against (§67a(2) GenG).", right.Title, kit.DateOf(right.ResolvedAt))
		n = &Notice{ID: kit.NewID(), MembershipID: m.ID, GivenOn: today, EffectiveOn: BusinessYearEnd(today, p),
			CreatedAt: s.now(), Kind: NoticeExtraordinary67a, ResolutionRef: right.ItemID,
			BylawsNotBinding: notBinding.String(), BylawsNotBindingMsg: notBinding}
		if err := tx.Create(n).Error; err != nil {
			return fmt.Errorf("insert §67a notice: %w", err)
		}
		if m.Status == StatusMember {
			if err := s.setStatus(tx, m.ID, StatusMember, StatusLeaving); err != nil {
				return err
			}
		}
		// An open whole notice ends at a later (or the same) business
		// year's end: this one takes its place.
		if err := tx.Model(&Notice{}).Where("membership_id = ? AND shares = 0 AND id <> ? AND withdrawn_at IS NULL AND processed_at IS NULL", m.ID, n.ID).
			Updates(withdrawal(s.now(), models.Msgf("superseded by extraordinary notice %s", n.ID))).Error; err != nil {
			return fmt.Errorf("close the earlier notice: %w", err)
		}
		detail := models.Msgf("extraordinary notice (§67a GenG) on the resolution “%s”, effective %s; %s", right.Title, kit.DateOf(n.EffectiveOn), notBinding)
		if err := s.addEvent(tx, m.ID, EventNoticeGiven, today, detail); err != nil {
			return err
		}
		if err := kit.RecordAudit(tx, actor, "membership.notice", "membership", m.ID,
			map[string]any{"notice_id": n.ID, "kind": n.Kind, "resolution": right.ItemID, "assembly": right.AssemblyID, "effective_on": kit.FormatDate(n.EffectiveOn)}); err != nil {
			return err
		}
		return s.mailUser(ctx, tx, m.UserID, func(ctx context.Context, r account.Recipient) jobargs.SendMail { return mailNoticeConfirmed(ctx, r, n) })
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}
