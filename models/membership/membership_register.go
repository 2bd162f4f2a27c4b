package membership

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/internal/like"
	"allmende/models/rulebook"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// RegisterFilter narrows the member register.
type RegisterFilter struct {
	Query  string // part of the name or organisation, or a member number
	Status string // a MembershipStatus, empty for all
	Limit  int    // entries per page, 0 for all (the CSV export)
	Offset int    // entries to skip, for the pages after the first
}

// RegisterStatuses are the statuses a register entry can have: applicants
// have no member number yet and are not in the register.
var RegisterStatuses = []MembershipStatus{StatusMember, StatusLeaving, StatusExcluding, StatusFormer, StatusExcluded}

func joinStatuses(sts []MembershipStatus) string {
	parts := make([]string, len(sts))
	for i, st := range sts {
		parts[i] = string(st)
	}
	return strings.Join(parts, ", ")
}

// RegisterEntry is one member in the register (§30 GenG).
type RegisterEntry struct {
	MembershipID   string
	MemberNumber   int64
	Status         MembershipStatus
	Name           string
	PersonKind     string
	Organisation   string
	Representative string
	Street         string
	PostalCode     string
	City           string
	Country        string
	AdmittedOn     time.Time
	Shares         int
	PaidCents      int64 // capital paid in
	OwedCents      int64 // subscribed capital not paid in yet
	LeftOn         *time.Time
	LeaveReason    string
	History        []MembershipEvent
}

// registerQuery selects the register entries the filter asks for.
func registerQuery(db *gorm.DB, f RegisterFilter) (*gorm.DB, error) {
	q := db.Model(&Membership{}).Where("member_number IS NOT NULL")
	if st := MembershipStatus(strings.TrimSpace(f.Status)); st != "" {
		if !slices.Contains(RegisterStatuses, st) {
			return nil, models.BadQueryf("status", "Unknown status %q: use one of %s.", st, joinStatuses(RegisterStatuses))
		}
		q = q.Where("status = ?", st)
	}
	if term := strings.TrimSpace(f.Query); term != "" {
		like := "%" + like.Escape(strings.ToLower(term)) + "%"
		cond := db.Where(`LOWER(legal_name) LIKE ? ESCAPE '\'`, like).Or(`LOWER(organisation) LIKE ? ESCAPE '\'`, like)
		if n, err := strconv.ParseInt(strings.TrimPrefix(term, "#"), 10, 64); err == nil {
			cond = cond.Or("member_number = ?", n)
		}
		q = q.Where(cond)
	}
	return q, nil
}

// CountRegister is how many entries match the filter (its Limit and
// Offset aside), for the pages of the register.
func (s *Memberships) CountRegister(ctx context.Context, f RegisterFilter) (int, error) {
	q, err := registerQuery(s.db.Gorm.WithContext(ctx), f)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count register: %w", err)
	}
	return int(n), nil
}

// Register lists admitted members (present and past) by member number,
// a page of them when the filter has a Limit.
func (s *Memberships) Register(ctx context.Context, f RegisterFilter) ([]RegisterEntry, error) {
	db := s.db.Gorm.WithContext(ctx)
	q, err := registerQuery(db, f)
	if err != nil {
		return nil, err
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(max(0, f.Offset))
	}
	p, err := rulebook.RulesAt(db, s.now())
	if err != nil {
		return nil, err
	}
	var ms []Membership
	if err := q.Order("member_number").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("read register: %w", err)
	}
	out := make([]RegisterEntry, 0, len(ms))
	for _, m := range ms {
		e := RegisterEntry{MembershipID: m.ID, MemberNumber: *m.MemberNumber, Status: m.Status, Name: m.DisplayName(),
			PersonKind: m.PersonKind, Organisation: m.Organisation, Representative: m.Representative,
			Street: m.Street, PostalCode: m.PostalCode, City: m.City, Country: m.Country,
			LeftOn: m.LeftOn, LeaveReason: m.LeaveReason}
		if m.AdmittedOn != nil {
			e.AdmittedOn = *m.AdmittedOn
		}
		var err error
		if e.Shares, err = shareBalance(db, m.ID); err != nil {
			return nil, err
		}
		if e.PaidCents, err = capitalBalance(db, m.ID); err != nil {
			return nil, err
		}
		e.OwedCents = max(0, int64(e.Shares)*p.SharePriceCents-e.PaidCents)
		if err := db.Where("membership_id = ?", m.ID).Order("effective_date, created_at, id").Find(&e.History).Error; err != nil {
			return nil, fmt.Errorf("read history of %s: %w", m.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// WriteRegisterCSV writes the register as CSV, one member per row, the
// history joined into one cell.
func (s *Memberships) WriteRegisterCSV(ctx context.Context, f RegisterFilter, w io.Writer) error {
	entries, err := s.Register(ctx, f)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	header := []string{"member_number", "status", "name", "person_kind", "organisation", "representative",
		"street", "postal_code", "city", "country", "admitted_on", "shares", "left_on", "leave_reason", "history", "paid_eur", "owed_eur"}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write register csv: %w", err)
	}
	for _, e := range entries {
		left := ""
		if e.LeftOn != nil {
			left = kit.FormatDate(*e.LeftOn)
		}
		var hist []string
		for _, ev := range e.History {
			hist = append(hist, kit.FormatDate(ev.EffectiveDate)+" "+ev.Kind+": "+ev.Detail)
		}
		row := []string{strconv.FormatInt(e.MemberNumber, 10), string(e.Status), e.Name, e.PersonKind, e.Organisation,
			e.Representative, e.Street, e.PostalCode, e.City, e.Country, kit.FormatDate(e.AdmittedOn),
			strconv.Itoa(e.Shares), left, e.LeaveReason, strings.Join(hist, "; "), decimalEUR(e.PaidCents), decimalEUR(e.OwedCents)}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write register csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write register csv: %w", err)
	}
	return nil
}

// decimalEUR writes cents as "1250.00" for spreadsheets.
func decimalEUR(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// csvSafe defuses a cell a spreadsheet would run as a formula (CSV
// injection): members choose their own names and addresses.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// registerRetentionYears: a former member's register entry is kept this long
// after leaving, then its personal data is erased.
const registerRetentionYears = 3

// PurgeExpired erases the personal data of members whose retention ran
// out: three years from the end of the calendar year they left in (§30(3)
// GenG), and never while capital is still owed back to them (the refund
// needs the name and the bank account). The row, its number and its
// ledgers stay, anonymous, so the books still add up. It returns how many
// entries it erased.
func (s *Memberships) PurgeExpired(ctx context.Context) (int, error) {
	// Left in year Y: kept until 31 December of Y+3, so erased once the
	// year of leaving lies before this year minus three.
	cutoff := time.Date(s.today().Year()-registerRetentionYears, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	err := s.db.Gorm.WithContext(ctx).Model(&Membership{}).
		Where("status IN ? AND left_on < ? AND purged_at IS NULL", []MembershipStatus{StatusFormer, StatusExcluded}, cutoff).
		Where("NOT EXISTS (SELECT 1 FROM refunds r WHERE r.membership_id = memberships.id AND r.paid_at IS NULL)").
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return 0, fmt.Errorf("find expired register entries: %w", err)
	}
	actor := models.SystemActor("register-purge")
	for _, id := range ids {
		err := s.tx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&Membership{}).Where("id = ? AND purged_at IS NULL", id).Updates(map[string]any{
				"legal_name": "", "organisation": "", "representative": "", "street": "", "postal_code": "",
				"city": "", "country": "", "iban": "", "account_holder": "", "declaration": "", "leave_reason": "",
				"purged_at": s.now(), "updated_at": s.now(),
			})
			if res.Error != nil {
				return fmt.Errorf("erase register entry %s: %w", id, res.Error)
			}
			if res.RowsAffected == 0 {
				return nil
			}
			// The history holds old addresses and reasons.
			if err := tx.Where("membership_id = ?", id).Delete(&MembershipEvent{}).Error; err != nil {
				return fmt.Errorf("erase history of %s: %w", id, err)
			}
			// So do exclusion proceedings: the facts and the member's statement.
			if err := tx.Model(&Exclusion{}).Where("membership_id = ?", id).
				Updates(map[string]any{"facts": "", "statement": "", "reason": "", "decision_reference": ""}).Error; err != nil {
				return fmt.Errorf("erase exclusions of %s: %w", id, err)
			}
			// And declarations of further shares, which name the member.
			if err := tx.Model(&FurtherShares{}).Where("membership_id = ?", id).
				Updates(map[string]any{"declaration": "", "reason": ""}).Error; err != nil {
				return fmt.Errorf("erase share declarations of %s: %w", id, err)
			}
			if err := tx.Model(&CapitalTransfer{}).Where("from_membership_id = ? OR to_membership_id = ?", id, id).
				Update("agreement", "").Error; err != nil {
				return fmt.Errorf("erase transfer agreements of %s: %w", id, err)
			}
			return kit.RecordAudit(tx, actor, "membership.purge", "membership", id, nil)
		})
		if err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
