package governance

import (
	"allmende/models"
	"allmende/models/internal/kit"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A demand of members that the board convene an extraordinary general
// assembly (§45(1) GenG): in text form, with its purpose and reasons,
// supported by a tenth of the members (or the smaller share the bylaws
// name, the rule proposal_support_percent). Once it has the support, the
// board must convene; the assembly it convenes names the demand.

// Demand statuses.
const (
	DemandCollecting = "collecting"
	DemandConvened   = "convened"
)

type demandRow struct {
	ID         string
	AuthorID   string
	Purpose    string
	Reasons    string
	Status     string
	AssemblyID *string
	CreatedAt  time.Time
}

func (demandRow) TableName() string { return "assembly_demands" }

type demandSupport struct {
	DemandID  string
	UserID    string
	CreatedAt time.Time
}

func (demandSupport) TableName() string { return "assembly_demand_supports" }

// Demand is a demand for an extraordinary assembly with its support.
type Demand struct {
	ID, AuthorID, AuthorName, Purpose, Reasons, Status, AssemblyID string
	Supporters, Needed                                             int
	Reached, SupportedByViewer                                     bool
	CreatedAt                                                      time.Time
}

// DemandAssembly files a member's demand; the author supports it.
func (g *Governance) DemandAssembly(ctx context.Context, actor models.Actor, v models.Viewer, purpose, reasons string) (*Demand, error) {
	purpose, reasons = strings.TrimSpace(purpose), strings.TrimSpace(reasons)
	fields := map[string]string{}
	kit.TextField(fields, "purpose", purpose, "Say what the assembly is to decide.", 500)
	kit.TextBlock(fields, "reasons", reasons, "Give the reasons for the demand (§45(1) GenG).", 20000)
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var id string
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		m, err := inGoodStanding(tx, v.UserID)
		if err != nil {
			return err
		}
		if m == nil {
			return models.Forbidden("Only members can demand a general assembly.")
		}
		now := g.now()
		row := demandRow{ID: kit.NewID(), AuthorID: v.UserID, Purpose: purpose, Reasons: reasons, Status: DemandCollecting, CreatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert demand: %w", err)
		}
		if err := tx.Create(&demandSupport{DemandID: row.ID, UserID: v.UserID, CreatedAt: now}).Error; err != nil {
			return fmt.Errorf("insert support: %w", err)
		}
		id = row.ID
		return kit.RecordAudit(tx, actor, "demand.create", "assembly_demand", row.ID, map[string]any{"purpose": purpose})
	})
	if err != nil {
		return nil, err
	}
	return g.Demand(ctx, v, id)
}

// SupportDemand adds a member's support, once.
func (g *Governance) SupportDemand(ctx context.Context, actor models.Actor, v models.Viewer, id string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		m, err := inGoodStanding(tx, v.UserID)
		if err != nil {
			return err
		}
		if m == nil {
			return models.Forbidden("Only members can support a demand.")
		}
		var d demandRow
		if err := tx.First(&d, "id = ?", id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return models.NotFoundError("demand")
		} else if err != nil {
			return fmt.Errorf("load demand: %w", err)
		}
		if d.Status != DemandCollecting {
			return models.Conflict("The board has convened the assembly this demand asked for.")
		}
		if err := tx.Create(&demandSupport{DemandID: id, UserID: v.UserID, CreatedAt: g.now()}).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You already support this demand.")
			}
			return fmt.Errorf("insert support: %w", err)
		}
		return kit.RecordAudit(tx, actor, "demand.support", "assembly_demand", id, nil)
	})
}

// Demands lists the demands, newest first.
func (g *Governance) Demands(ctx context.Context, v models.Viewer) ([]Demand, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	return g.loadDemands(db, v, "")
}

// Demand shows one demand.
func (g *Governance) Demand(ctx context.Context, v models.Viewer, id string) (*Demand, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	ds, err := g.loadDemands(db, v, "d.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, models.NotFoundError("demand")
	}
	return &ds[0], nil
}

func (g *Governance) loadDemands(tx *gorm.DB, v models.Viewer, where string, args ...any) ([]Demand, error) {
	needed, err := supportNeeded(tx, g.now())
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID, AuthorID, AuthorName, Purpose, Reasons, Status string
		AssemblyID                                         *string
		CreatedAt                                          time.Time
		Supporters                                         int
		Mine                                               int
	}
	q := `SELECT d.id, d.author_id, u.name AS author_name, d.purpose, d.reasons, d.status, d.assembly_id, d.created_at,
		(SELECT COUNT(*) FROM assembly_demand_supports s WHERE s.demand_id = d.id) AS supporters,
		(SELECT COUNT(*) FROM assembly_demand_supports s WHERE s.demand_id = d.id AND s.user_id = ?) AS mine
		FROM assembly_demands d JOIN users u ON u.id = d.author_id`
	qargs := []any{v.UserID}
	if where != "" {
		q += " WHERE " + where
		qargs = append(qargs, args...)
	}
	if err := tx.Raw(q+" ORDER BY d.created_at DESC, d.id DESC", qargs...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load demands: %w", err)
	}
	out := make([]Demand, len(rows))
	for i, r := range rows {
		out[i] = Demand{ID: r.ID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Purpose: r.Purpose, Reasons: r.Reasons, Status: r.Status,
			Supporters: r.Supporters, Needed: needed, Reached: r.Supporters >= needed, SupportedByViewer: r.Mine > 0, CreatedAt: r.CreatedAt.UTC()}
		if r.AssemblyID != nil {
			out[i].AssemblyID = *r.AssemblyID
		}
	}
	return out, nil
}

// convenedOnDemand links a demand to the assembly convened for it.
func convenedOnDemand(tx *gorm.DB, demandID, assemblyID string) error {
	res := tx.Model(&demandRow{}).Where("id = ? AND status = ?", demandID, DemandCollecting).
		Updates(map[string]any{"status": DemandConvened, "assembly_id": assemblyID})
	if res.Error != nil {
		return fmt.Errorf("convene on demand: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return models.Invalid(map[string]string{"demand_id": "Choose a demand of members that is still waiting for its assembly."})
	}
	return nil
}
