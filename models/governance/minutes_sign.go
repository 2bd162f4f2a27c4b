package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/membership"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The minutes of an assembly (§47 GenG) are signed by the chair and a board
// member present; the first signature freezes their text (and its SHA-256),
// the second signs the same text, and from then nothing in them changes:
// objections and declarations are refused once the text is frozen.

type objectionRow struct {
	ID         string
	AssemblyID string
	ItemID     string
	UserID     string
	Text       string
	CreatedAt  time.Time
}

func (objectionRow) TableName() string { return "objections" }

type signatureRow struct {
	AssemblyID  string
	UserID      string
	Capacity    string
	MinutesHash string
	SignedAt    time.Time
}

func (signatureRow) TableName() string { return "minutes_signatures" }

// Signature capacities.
const (
	SignChair = "chair"
	SignBoard = "board"
)

// Objection is a member's objection to a resolution, for the minutes.
type Objection struct {
	ID, ItemID, UserID, Name, Text string
	CreatedAt                      time.Time
}

// Signature is a signature of the minutes.
type Signature struct {
	UserID, Name, Capacity, MinutesHash string
	SignedAt                            time.Time
}

// NoticeRight is the extraordinary notice a member may give after a bylaw
// change of a kind §67a GenG names, to which they objected.
type NoticeRight struct {
	ItemID, Title string
	Until         time.Time
}

var errMinutesFrozen = models.Conflict("The minutes have been signed; they can no longer change.")

// Object records a member's objection to a resolution for the minutes
// (§47 GenG); it keeps their right of extraordinary notice after a bylaw
// change §67a GenG names. Once voting has opened and until the minutes are
// signed; by members of the electorate.
func (g *Governance) Object(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID, text string) error {
	text = strings.TrimSpace(text)
	fields := map[string]string{}
	kit.TextBlock(fields, "objection", text, "Say what you object to.", 5000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		switch {
		case a.Status == AssemblyPlanned:
			return models.Conflict("Objections are declared at the assembly, once voting has opened.")
		case a.MinutesHash != "":
			return errMinutesFrozen
		}
		var n int64
		if err := tx.Model(&electorRow{}).Where("assembly_id = ? AND user_id = ?", a.ID, v.UserID).Count(&n).Error; err != nil {
			return fmt.Errorf("check electorate: %w", err)
		}
		if n == 0 {
			return models.Forbidden("Only members entitled to vote in this assembly can object to its resolutions.")
		}
		if err := tx.Model(&itemRow{}).Where("id = ? AND assembly_id = ?", itemID, a.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("check item: %w", err)
		}
		if n == 0 {
			return models.NotFoundError("agenda item")
		}
		o := objectionRow{ID: kit.NewID(), AssemblyID: a.ID, ItemID: itemID, UserID: v.UserID, Text: text, CreatedAt: g.now()}
		if err := tx.Create(&o).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You have already objected to this resolution.")
			}
			return fmt.Errorf("insert objection: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.object", "agenda_item", itemID, map[string]any{"objection": o.ID})
	})
}

// DeclareResults records the chair's declaration of the result of every
// item not yet declared, from the published count (§47 GenG).
func (g *Governance) DeclareResults(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.ChairID == nil || *a.ChairID != v.UserID {
			return models.Forbidden("Only the chair declares the results.")
		}
		if a.MinutesHash != "" {
			return errMinutesFrozen
		}
		res, err := publishedResults(a)
		if err != nil {
			return err
		}
		items, err := loadItems(tx, a.ID)
		if err != nil {
			return err
		}
		for i, it := range items {
			if it.Declaration != "" || i >= len(res.Items) {
				continue
			}
			if err := tx.Model(&itemRow{}).Where("id = ?", it.ID).Update("declaration", declaration(res.Items[i])).Error; err != nil {
				return fmt.Errorf("declare result: %w", err)
			}
		}
		return kit.RecordAudit(tx, actor, "assembly.declare", "assembly", a.ID, nil)
	})
}

// declaration is the chair's statement of an item's result.
func declaration(r ItemResult) string {
	if r.Kind == ItemElection {
		switch {
		case len(r.Runoff) > 0:
			return "The chair declares that no candidate has the majority of the valid votes; a runoff between " + strings.Join(r.Runoff, " and ") + " decides."
		case len(r.Elected) > 0:
			return "The chair declares elected: " + strings.Join(r.Elected, ", ") + "."
		}
		return "The chair declares that nobody has been elected."
	}
	verdict := "rejected"
	if r.Adopted {
		verdict = "adopted"
	}
	return fmt.Sprintf("The chair declares the resolution %s with %d yes, %d no and %d abstentions.", verdict, r.Yes, r.No, r.Abstain)
}

// SignMinutes signs the minutes of a closed assembly: as its chair, or as
// a board member present at it (not the chair). The first signature
// freezes the text; once both have signed, the minutes are final.
func (g *Governance) SignMinutes(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyClosed {
			return models.Conflict("The minutes are signed after voting has closed.")
		}
		var sigs []signatureRow
		if err := tx.Where("assembly_id = ?", a.ID).Find(&sigs).Error; err != nil {
			return fmt.Errorf("load signatures: %w", err)
		}
		signed := map[string]string{}
		for _, s := range sigs {
			signed[s.Capacity] = s.UserID
		}
		capacity := ""
		if a.ChairID != nil && *a.ChairID == v.UserID {
			capacity = SignChair
		} else {
			board, err := account.UserHasRole(tx, v.UserID, account.RoleBoard)
			if err != nil {
				return err
			}
			var present int64
			if err := tx.Model(&attendanceRow{}).Where("assembly_id = ? AND user_id = ?", a.ID, v.UserID).Count(&present).Error; err != nil {
				return fmt.Errorf("check attendance: %w", err)
			}
			if !board || present == 0 {
				return models.Forbidden("The minutes are signed by the chair and a member of the board present at the assembly.")
			}
			capacity = SignBoard
		}
		if a.ChairID == nil {
			return models.Conflict("The assembly has no chair; the board appoints one first.")
		}
		if _, ok := signed[capacity]; ok {
			return models.Conflict("The minutes already carry this signature.")
		}
		now := g.now()
		if a.MinutesHash == "" {
			if capacity == SignChair {
				var undeclared int64
				if err := tx.Model(&itemRow{}).Where("assembly_id = ? AND declaration = ''", a.ID).Count(&undeclared).Error; err != nil {
					return fmt.Errorf("check declarations: %w", err)
				}
				if undeclared > 0 {
					return models.Conflict("Declare the results of every item before signing.")
				}
			}
			text, err := g.minutesText(tx, a)
			if err != nil {
				return err
			}
			sum := sha256.Sum256([]byte(text))
			a.MinutesText, a.MinutesHash = text, hex.EncodeToString(sum[:])
			if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).
				Updates(map[string]any{"minutes_text": a.MinutesText, "minutes_hash": a.MinutesHash}).Error; err != nil {
				return fmt.Errorf("freeze minutes: %w", err)
			}
		}
		if err := tx.Create(&signatureRow{AssemblyID: a.ID, UserID: v.UserID, Capacity: capacity, MinutesHash: a.MinutesHash, SignedAt: now}).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("The minutes already carry this signature.")
			}
			return fmt.Errorf("sign minutes: %w", err)
		}
		if len(signed) == 1 {
			if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Update("minutes_signed_at", now).Error; err != nil {
				return fmt.Errorf("finish minutes: %w", err)
			}
		}
		return kit.RecordAudit(tx, actor, "assembly.sign_minutes", "assembly", a.ID, map[string]any{"capacity": capacity, "minutes_hash": a.MinutesHash})
	})
}

func loadObjections(tx *gorm.DB, assemblyID string) ([]Objection, error) {
	var out []Objection
	if err := tx.Raw(`SELECT o.id, o.item_id, o.user_id, u.name, o.text, o.created_at FROM objections o JOIN users u ON u.id = o.user_id
		WHERE o.assembly_id = ? ORDER BY o.created_at, o.id`, assemblyID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("load objections: %w", err)
	}
	return out, nil
}

func loadSignatures(tx *gorm.DB, assemblyID string) ([]Signature, error) {
	var out []Signature
	if err := tx.Raw(`SELECT s.user_id, u.name, s.capacity, s.minutes_hash, s.signed_at FROM minutes_signatures s JOIN users u ON u.id = s.user_id
		WHERE s.assembly_id = ? ORDER BY CASE WHEN s.capacity = 'chair' THEN 0 ELSE 1 END, s.signed_at`, assemblyID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("load signatures: %w", err)
	}
	return out, nil
}

// noticeRights are the viewer's rights of extraordinary notice from this
// assembly (§67a GenG): within a month after the resolution, for bylaw
// changes of the kinds it names that were adopted over their objection.
func noticeRights(a *assemblyRow, items []AgendaItem, res *AssemblyResults, objections []Objection, userID string, now time.Time) []NoticeRight {
	if a.ClosedAt == nil || res == nil {
		return nil
	}
	until := kit.AddMonths(a.ClosedAt.UTC(), 1)
	if now.After(until) {
		return nil
	}
	var out []NoticeRight
	for i, it := range items {
		if it.S67a == "" || i >= len(res.Items) || !res.Items[i].Adopted {
			continue
		}
		for _, o := range objections {
			if o.ItemID == it.ID && o.UserID == userID {
				out = append(out, NoticeRight{ItemID: it.ID, Title: it.Title, Until: until})
			}
		}
	}
	return out
}

// ExtraordinaryRights lists userID's open rights of extraordinary notice
// (§67a GenG) inside tx: adopted bylaw changes of the kinds §67a names, to
// which they declared an objection for the minutes, within one month of
// the resolution. Membership, ranked below, gives the notice with it
// (Memberships.SetExtraordinaryRights).
func ExtraordinaryRights(tx *gorm.DB, userID string, now time.Time) ([]membership.ExtraordinaryRight, error) {
	var ids []string
	// A month back and a few days more; noticeRights decides exactly.
	if err := tx.Raw(`SELECT DISTINCT o.assembly_id FROM objections o
		JOIN agenda_items i ON i.id = o.item_id JOIN assemblies a ON a.id = o.assembly_id
		WHERE o.user_id = ? AND i.s67a <> '' AND a.status = ? AND a.closed_at >= ?`,
		userID, AssemblyClosed, now.AddDate(0, -1, -4)).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("load §67a objections of %s: %w", userID, err)
	}
	var out []membership.ExtraordinaryRight
	for _, id := range ids {
		a, err := loadAssembly(tx, id, false)
		if err != nil {
			return nil, err
		}
		items, err := loadItems(tx, id)
		if err != nil {
			return nil, err
		}
		res, err := publishedResults(a)
		if err != nil {
			return nil, err
		}
		objections, err := loadObjections(tx, id)
		if err != nil {
			return nil, err
		}
		for _, r := range noticeRights(a, items, res, objections, userID, now) {
			out = append(out, membership.ExtraordinaryRight{ItemID: r.ItemID, AssemblyID: id, Title: r.Title, ResolvedAt: a.ClosedAt.UTC(), Until: r.Until})
		}
	}
	return out, nil
}
