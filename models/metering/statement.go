package metering

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
)

// Statement is a member's monthly statement. Once closed it never changes:
// a correction is a new line.
type Statement struct {
	ID       string          `json:"id"`
	UserID   string          `json:"-"`
	Month    string          `json:"month"`
	ClosedAt time.Time       `json:"closed_at"`
	Lines    []StatementLine `json:"lines" gorm:"-"`
	// Filled for the board's list.
	MemberName string `json:"member_name,omitempty" gorm:"-"`
}

// Total is the sum of the lines.
func (s *Statement) Total() int64 {
	var t int64
	for _, l := range s.Lines {
		t += l.AmountCents
	}
	return t
}

// StatementLine is one line; quantities in thousandths of the unit.
type StatementLine struct {
	ID                  string    `json:"id"`
	StatementID         string    `json:"-"`
	Position            int       `json:"position"`
	Kind                string    `json:"kind"` // vm_hours | disk | traffic | correction
	Description         string    `json:"description"`
	Unit                string    `json:"unit"`
	QuantityMilli       int64     `json:"quantity_milli"`
	UnitPriceMillicents int64     `json:"unit_price_millicents"`
	AmountCents         int64     `json:"amount_cents"`
	CorrectsID          *string   `json:"corrects_id,omitempty"`
	CreatedBy           string    `json:"-"`
	CreatedAt           time.Time `json:"created_at"`
}

func (Statement) TableName() string     { return "statements" }
func (StatementLine) TableName() string { return "statement_lines" }

// Line kinds.
const (
	LineVMHours    = "vm_hours"
	LineDisk       = "disk"
	LineTraffic    = "traffic"
	LineCorrection = "correction"
)

// price rounds quantity × unit price to whole cents, half up.
func price(quantityMilli, unitMillicents int64) int64 {
	return (quantityMilli*unitMillicents + 500_000) / 1_000_000
}

func milli(num, den int64) int64 { return (num*1000 + den/2) / den }

// lines turns a member's usage into statement lines at prices p.
func lines(u *Usage, m Month, p rulebook.Prices) []StatementLine {
	var out []StatementLine
	for _, pl := range u.Plans {
		unit := int64(pl.VCPUs)*p.VCPUHourMillicents + int64(pl.MemoryMiB)*p.MemoryGiBHourMillicents/1024
		q := milli(pl.RunSeconds, 3600)
		out = append(out, StatementLine{Kind: LineVMHours, Unit: "h", QuantityMilli: q, UnitPriceMillicents: unit,
			Description: fmt.Sprintf("VM-hours, plan %s (%d vCPU, %d MiB)", pl.PlanName, pl.VCPUs, pl.MemoryMiB), AmountCents: price(q, unit)})
	}
	if u.DiskGiBSeconds > 0 {
		q := milli(u.DiskGiBSeconds, m.Seconds())
		out = append(out, StatementLine{Kind: LineDisk, Unit: "GiB-month", QuantityMilli: q, UnitPriceMillicents: p.DiskGiBMonthCents * 1000,
			Description: "Disks", AmountCents: price(q, p.DiskGiBMonthCents*1000)})
	}
	if u.TrafficBytes > 0 {
		q := milli(u.TrafficBytes, 1<<30)
		out = append(out, StatementLine{Kind: LineTraffic, Unit: "GiB", QuantityMilli: q, UnitPriceMillicents: p.TrafficGiBCents * 1000,
			Description: "Network traffic", AmountCents: price(q, p.TrafficGiBCents*1000)})
	}
	return out
}

// CloseMonth makes every member's statement of month m, once: closing a
// month that is closed already changes nothing. The month must be over.
// Prices are the rules in force at the month's start.
func (c *Commons) CloseMonth(ctx context.Context, actor models.Actor, m Month) (int, error) {
	if c.clock.Now().Before(m.End()) {
		return 0, models.Invalidf("month", "%s is not over yet.", m.Label())
	}
	made := 0
	err := c.db.Tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Table("metering_months").Where("month = ?", m.String()).Count(&n).Error; err != nil {
			return fmt.Errorf("read closed months: %w", err)
		}
		if n > 0 {
			return nil
		}
		now := kit.UTCNow()
		if err := tx.Exec(`INSERT INTO metering_months (month, closed_at, closed_by) VALUES (?, ?, ?)`, m.String(), now, actor.Email).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return nil // another portal closed it just now
			}
			return fmt.Errorf("close month: %w", err)
		}
		rules, err := rulebook.RulesAt(tx, m.Start)
		if err != nil {
			return err
		}
		usage, err := usageOf(tx, m, time.Time{}, "")
		if err != nil {
			return err
		}
		for _, u := range usage {
			ls := lines(u, m, rules.Prices)
			if len(ls) == 0 {
				continue
			}
			st := &Statement{ID: kit.NewID(), UserID: u.OwnerID, Month: m.String(), ClosedAt: now}
			if err := tx.Create(st).Error; err != nil {
				return fmt.Errorf("insert statement: %w", err)
			}
			for i := range ls {
				ls[i].ID, ls[i].StatementID, ls[i].Position, ls[i].CreatedBy, ls[i].CreatedAt = kit.NewID(), st.ID, i+1, actor.Email, now
			}
			if err := tx.Create(&ls).Error; err != nil {
				return fmt.Errorf("insert statement lines: %w", err)
			}
			made++
		}
		return kit.RecordAudit(tx, actor, "statements.close", "month", m.String(), map[string]any{"statements": made})
	})
	return made, err
}

// CloseMonthBy is CloseMonth asked for by a board member.
func (c *Commons) CloseMonthBy(ctx context.Context, actor models.Actor, v models.Viewer, m Month) (int, error) {
	if err := requireBoard(c.db.Gorm.WithContext(ctx), v); err != nil {
		return 0, err
	}
	return c.CloseMonth(ctx, actor, m)
}

// CloseDue closes the previous month once it is two hours over (the
// hourly rollup has then folded in its last hour). The monthly job calls it.
func (c *Commons) CloseDue(ctx context.Context) (int, error) {
	now := c.clock.Now()
	cur := MonthOf(now)
	if now.Sub(cur.Start) < 2*time.Hour {
		return 0, nil
	}
	return c.CloseMonth(ctx, models.SystemActor("metering.close"), cur.Prev())
}

// CorrectionInput is a board member's correction of a closed statement.
type CorrectionInput struct {
	Description string
	AmountCents int64 // signed: negative is a credit
	CorrectsID  string
}

// Correct adds a correction line to a closed statement; the statement's
// other lines stay as they were.
func (c *Commons) Correct(ctx context.Context, actor models.Actor, v models.Viewer, statementID string, in CorrectionInput) (*StatementLine, error) {
	in.Description = strings.TrimSpace(in.Description)
	fields := map[string]string{}
	kit.TextField(fields, "description", in.Description, "Say what the correction is for.", 200)
	if in.AmountCents == 0 {
		fields["amount"] = "Enter an amount other than zero (negative for a credit)."
	} else if in.AmountCents > 100_000_000 || in.AmountCents < -100_000_000 {
		fields["amount"] = "Enter at most 1,000,000.00."
	}
	if len(fields) > 0 {
		return nil, models.Invalid(fields)
	}
	var line *StatementLine
	err := c.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireBoard(tx, v); err != nil {
			return err
		}
		var st Statement
		if err := kit.First(tx, &st, statementID, "statement"); err != nil {
			return err
		}
		if in.CorrectsID != "" {
			var n int64
			if err := tx.Model(&StatementLine{}).Where("id = ? AND statement_id = ?", in.CorrectsID, st.ID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return models.Invalid(map[string]string{"corrects_id": "That line is not on this statement."})
			}
		}
		var pos int
		if err := tx.Model(&StatementLine{}).Where("statement_id = ?", st.ID).Select("COALESCE(MAX(position), 0)").Row().Scan(&pos); err != nil {
			return err
		}
		line = &StatementLine{ID: kit.NewID(), StatementID: st.ID, Position: pos + 1, Kind: LineCorrection, Description: in.Description,
			AmountCents: in.AmountCents, CreatedBy: actor.Email, CreatedAt: kit.UTCNow()}
		if in.CorrectsID != "" {
			line.CorrectsID = &in.CorrectsID
		}
		if err := tx.Create(line).Error; err != nil {
			return fmt.Errorf("insert correction: %w", err)
		}
		return kit.RecordAudit(tx, actor, "statement.correct", "statement", st.ID,
			map[string]any{"amount_cents": in.AmountCents, "description": in.Description})
	})
	return line, err
}

func requireBoard(tx *gorm.DB, v models.Viewer) error {
	if v.UserID == "" {
		return models.Forbidden("Only the board may do this.")
	}
	ok, err := account.UserHasRole(tx, v.UserID, account.RoleBoard)
	if err != nil {
		return err
	}
	if !ok && !v.Admin {
		return models.Forbidden("Only the board may do this.")
	}
	return nil
}

// isBoard reports whether v may see every statement.
func isBoard(tx *gorm.DB, v models.Viewer) (bool, error) {
	err := requireBoard(tx, v)
	var me *models.Error
	if errors.As(err, &me) {
		return false, nil
	}
	return err == nil, err
}

// Statements lists v's own statements, newest first, with their lines.
func (c *Commons) Statements(ctx context.Context, v models.Viewer) ([]Statement, error) {
	db := c.db.Gorm.WithContext(ctx)
	var out []Statement
	if err := db.Where("user_id = ?", v.UserID).Order("month DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list statements: %w", err)
	}
	return out, loadLines(db, out)
}

// Statement returns one statement for its member or the board; anyone
// else gets "not found".
func (c *Commons) Statement(ctx context.Context, v models.Viewer, id string) (*Statement, error) {
	db := c.db.Gorm.WithContext(ctx)
	var st Statement
	if err := kit.First(db, &st, id, "statement"); err != nil {
		return nil, err
	}
	if st.UserID != v.UserID {
		board, err := isBoard(db, v)
		if err != nil {
			return nil, err
		}
		if !board {
			return nil, models.NotFoundError("statement")
		}
	}
	out := []Statement{st}
	if err := loadLines(db, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

func loadLines(db *gorm.DB, sts []Statement) error {
	if len(sts) == 0 {
		return nil
	}
	idx := map[string]int{}
	ids := make([]string, 0, len(sts))
	for i, s := range sts {
		idx[s.ID] = i
		ids = append(ids, s.ID)
	}
	var ls []StatementLine
	if err := db.Where("statement_id IN ?", ids).Order("statement_id, position").Find(&ls).Error; err != nil {
		return fmt.Errorf("read statement lines: %w", err)
	}
	for _, l := range ls {
		i := idx[l.StatementID]
		sts[i].Lines = append(sts[i].Lines, l)
	}
	return nil
}

// MonthStatements is the board's view of a month: every statement, the
// total and the cost coverage.
type MonthStatements struct {
	Month      string      `json:"month"`
	Closed     bool        `json:"closed"`
	Statements []Statement `json:"statements"`
	TotalCents int64       `json:"total_cents"`
	CostsCents int64       `json:"costs_cents"`
}

// BoardMonth lists a month's statements for the board.
func (c *Commons) BoardMonth(ctx context.Context, v models.Viewer, m Month) (*MonthStatements, error) {
	db := c.db.Gorm.WithContext(ctx)
	if err := requireBoard(db, v); err != nil {
		return nil, err
	}
	out := &MonthStatements{Month: m.String()}
	var n int64
	if err := db.Table("metering_months").Where("month = ?", m.String()).Count(&n).Error; err != nil {
		return nil, err
	}
	out.Closed = n > 0
	var rows []struct {
		Statement
		Name string
	}
	if err := db.Table("statements s").Joins("JOIN users u ON u.id = s.user_id").Where("s.month = ?", m.String()).
		Order("u.name, s.id").Select("s.*, u.name").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list statements: %w", err)
	}
	for _, r := range rows {
		st := r.Statement
		st.MemberName = r.Name
		out.Statements = append(out.Statements, st)
	}
	if err := loadLines(db, out.Statements); err != nil {
		return nil, err
	}
	for _, s := range out.Statements {
		out.TotalCents += s.Total()
	}
	costs, err := costsByMonth(db, []string{m.String()})
	if err != nil {
		return nil, err
	}
	out.CostsCents = costs[m.String()]
	return out, nil
}
