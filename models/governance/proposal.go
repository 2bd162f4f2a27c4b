package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// proposalRow is a proposal as stored; Parameters is a JSON object.
type proposalRow struct {
	ID            string
	AuthorID      string
	Title         string
	Reasoning     string
	Kind          string
	RuleKey       string
	NewText       string
	Parameters    string
	EffectiveFrom *time.Time
	Status        string
	CreatedAt     time.Time
}

func (proposalRow) TableName() string { return "proposals" }

type proposalSupport struct {
	ProposalID string
	UserID     string
	CreatedAt  time.Time
}

func (proposalSupport) TableName() string { return "proposal_supports" }

type proposalComment struct {
	ID         string
	ProposalID string
	AuthorID   string
	Text       string
	CreatedAt  time.Time
}

func (proposalComment) TableName() string { return "proposal_comments" }

// proposalView is a row with what the lists show beside it. (gorm skips
// an embedded unexported struct, hence the repetition.)
type proposalView struct {
	ID            string
	AuthorID      string
	Title         string
	Reasoning     string
	Kind          string
	RuleKey       string
	NewText       string
	Parameters    string
	EffectiveFrom *time.Time
	Status        string
	CreatedAt     time.Time
	AuthorName    string
	Supporters    int
}

func (r proposalView) proposal() Proposal {
	p := Proposal{ID: r.ID, AuthorID: r.AuthorID, AuthorName: r.AuthorName, Title: r.Title, Reasoning: r.Reasoning,
		Kind: r.Kind, RuleKey: r.RuleKey, NewText: r.NewText, Status: r.Status, Supporters: r.Supporters, CreatedAt: r.CreatedAt}
	if r.EffectiveFrom != nil {
		p.EffectiveFrom = r.EffectiveFrom.UTC()
	}
	if r.Parameters != "" {
		_ = json.Unmarshal([]byte(r.Parameters), &p.Parameters) // written by Submit from a map
	}
	return p
}

const proposalSelect = `SELECT p.*, u.name AS author_name,
	(SELECT COUNT(*) FROM proposal_supports s WHERE s.proposal_id = p.id) AS supporters
	FROM proposals p JOIN users u ON u.id = p.author_id`

func loadProposals(tx *gorm.DB, where string, args ...any) ([]Proposal, error) {
	return loadProposalsLimit(tx, where, 0, 0, args...)
}

// loadProposalsLimit loads at most limit proposals (0: all), newest first,
// after skipping offset of them.
func loadProposalsLimit(tx *gorm.DB, where string, limit, offset int, args ...any) ([]Proposal, error) {
	var rows []proposalView
	q := proposalSelect
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY p.created_at DESC, p.id DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset)
	}
	if err := tx.Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("load proposals: %w", err)
	}
	out := make([]Proposal, len(rows))
	for i, r := range rows {
		out[i] = r.proposal()
	}
	return out, nil
}

func loadProposal(tx *gorm.DB, id string) (*Proposal, error) {
	ps, err := loadProposals(tx, "p.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, models.NotFoundError("proposal")
	}
	return &ps[0], nil
}

func (in *ProposalInput) normalize() {
	in.Title, in.Reasoning = strings.TrimSpace(in.Title), strings.TrimSpace(in.Reasoning)
	in.Kind, in.RuleKey = strings.TrimSpace(in.Kind), strings.TrimSpace(in.RuleKey)
	in.NewText = strings.TrimSpace(in.NewText)
	params := make(map[string]string, len(in.Parameters))
	for k, v := range in.Parameters {
		params[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	in.Parameters = params
	if !in.EffectiveFrom.IsZero() {
		in.EffectiveFrom = in.EffectiveFrom.UTC()
	}
	// Only the part of the form that belongs to the kind counts.
	switch in.Kind {
	case ProposalParameters:
		in.RuleKey, in.NewText = "", ""
	case ProposalText:
		in.Parameters = nil
	default:
		in.RuleKey, in.NewText, in.Parameters, in.EffectiveFrom = "", "", nil, time.Time{}
	}
}

// validate checks a proposal against the rules in force at its effective
// date, with the same checks a rule change gets: a proposal the assembly
// could adopt but the registry would refuse is of no use to anyone.
//
// Messages with parts filled in go to msgs, so that they can be translated.
func (in *ProposalInput) validate(tx *gorm.DB, today time.Time) (fields map[string]string, msgs map[string]models.Msg, err error) {
	fields, msgs = map[string]string{}, map[string]models.Msg{}
	kit.TextField(fields, "title", in.Title, "Give the proposal a title.", 200)
	kit.TextBlock(fields, "reasoning", in.Reasoning, "Explain why the members should adopt it.", 20000)
	kit.NoControl(fields, "new_text", in.NewText, true)
	switch in.Kind {
	case ProposalParameters, ProposalText:
		if in.EffectiveFrom.IsZero() {
			fields["effective_from"] = "Enter the date from which the change applies."
		} else if in.EffectiveFrom.Before(today) {
			fields["effective_from"] = "A change cannot apply from a date in the past."
		}
	case ProposalMotion:
	default:
		fields["kind"] = "Choose a change of parameters, a change of a text, or a motion."
	}
	switch in.Kind {
	case ProposalParameters:
		if len(in.Parameters) == 0 {
			fields["parameters"] = "Propose a new value for at least one parameter."
		}
		var scratch rulebook.RuleParams
		for k, v := range in.Parameters {
			def, ok := rulebook.RuleDefByKey(k)
			switch {
			case !ok || rulebook.IsTextRule(k):
				fields["param:"+k] = "This is not a parameter of the rules."
			default:
				if msg := def.Apply(&scratch, v); msg.Format != "" {
					msgs["param:"+k] = msg
				}
			}
		}
		if len(fields)+len(msgs) == 0 {
			// The combination must fit the rules in force at that date.
			p, err := rulebook.RulesAt(tx, in.EffectiveFrom)
			if err != nil {
				return nil, nil, err
			}
			for _, def := range rulebook.RuleDefs {
				if v, ok := in.Parameters[def.Key]; ok {
					def.Apply(&p, v)
				}
			}
			if p.MinShares > p.MaxShares {
				key := rulebook.RuleMinShares
				if _, ok := in.Parameters[key]; !ok {
					key = rulebook.RuleMaxShares
				}
				msgs["param:"+key] = models.Msgf("The minimum number of shares (%d) may not exceed the maximum (%d).", p.MinShares, p.MaxShares)
			}
		}
	case ProposalText:
		if !rulebook.IsTextRule(in.RuleKey) {
			fields["rule_key"] = "Choose the text to change."
		} else if def, _ := rulebook.RuleDefByKey(in.RuleKey); in.NewText == "" {
			fields["new_text"] = "Enter the new text."
		} else if msg := def.Apply(&rulebook.RuleParams{}, in.NewText); msg.Format != "" && fields["new_text"] == "" {
			msgs["new_text"] = msg
		}
	}
	return fields, msgs, nil
}

// Submit files a member's proposal. Only members may propose: the right to
// put items on the agenda is theirs (§45 GenG).
func (g *Governance) Submit(ctx context.Context, actor models.Actor, v models.Viewer, in ProposalInput) (*Proposal, error) {
	in.normalize()
	var out *Proposal
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleMember, "Only members can submit proposals."); err != nil {
			return err
		}
		fields, msgs, err := in.validate(tx, kit.DateOf(g.clock.Now()))
		if err != nil {
			return err
		}
		if len(fields)+len(msgs) > 0 {
			return models.InvalidFields(fields, msgs)
		}
		row := proposalRow{ID: kit.NewID(), AuthorID: v.UserID, Title: in.Title, Reasoning: in.Reasoning, Kind: in.Kind,
			RuleKey: in.RuleKey, NewText: in.NewText, Status: ProposalSubmitted, CreatedAt: g.now()}
		if len(in.Parameters) > 0 {
			b, err := json.Marshal(in.Parameters) // keys sorted: a stable record
			if err != nil {
				return fmt.Errorf("encode parameters: %w", err)
			}
			row.Parameters = string(b)
		}
		if !in.EffectiveFrom.IsZero() {
			row.EffectiveFrom = &in.EffectiveFrom
		}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert proposal: %w", err)
		}
		if err := kit.RecordAudit(tx, actor, "proposal.submit", "proposal", row.ID,
			map[string]any{"kind": row.Kind, "title": row.Title, "rule_key": row.RuleKey, "parameters": in.Parameters}); err != nil {
			return err
		}
		out, err = loadProposal(tx, row.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Proposals lists all proposals, newest first, to members and the board.
func (g *Governance) Proposals(ctx context.Context, v models.Viewer) ([]Proposal, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	return loadProposals(db, "")
}

// Proposal shows one proposal with its discussion and how much support it
// still needs to be placed on the next assembly's agenda.
func (g *Governance) Proposal(ctx context.Context, v models.Viewer, id string) (*ProposalDetail, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	p, err := loadProposal(db, id)
	if err != nil {
		return nil, err
	}
	d := &ProposalDetail{Proposal: *p}
	if err := db.Raw(`SELECT c.id, c.proposal_id, u.name AS author_name, c.text, c.created_at
		FROM proposal_comments c JOIN users u ON u.id = c.author_id
		WHERE c.proposal_id = ? ORDER BY c.created_at, c.id`, id).Scan(&d.Comments).Error; err != nil {
		return nil, fmt.Errorf("load comments of %s: %w", id, err)
	}
	var n int64
	if err := db.Model(&proposalSupport{}).Where("proposal_id = ? AND user_id = ?", id, v.UserID).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("load support: %w", err)
	}
	d.SupportedByViewer = n > 0
	if d.SupportNeeded, err = supportNeeded(db, g.now()); err != nil {
		return nil, err
	}
	d.MustBePlaced = p.Status == ProposalSubmitted && p.Supporters >= d.SupportNeeded
	return d, nil
}

// supportNeeded is the number of supporters that obliges the board to put a
// proposal on the agenda: proposal_support_percent of the members, rounded
// up (§45(1) GenG: one tenth, unless the bylaws ask for fewer).
func supportNeeded(tx *gorm.DB, at time.Time) (int, error) {
	percent, err := ruleIntAt(tx, rulebook.RuleProposalSupportPercent, at)
	if err != nil {
		return 0, err
	}
	var members int64
	if err := tx.Model(&membership.Membership{}).Where("status IN ?", goodStanding).Count(&members).Error; err != nil {
		return 0, fmt.Errorf("count members: %w", err)
	}
	return max(1, int((members*int64(percent)+99)/100)), nil
}

// goodStanding are the statuses that carry a vote: a member who gave notice
// stays a member until the notice takes effect.
var goodStanding = []membership.MembershipStatus{membership.StatusMember, membership.StatusLeaving}

// Comment adds a member's contribution to the discussion of a proposal.
func (g *Governance) Comment(ctx context.Context, actor models.Actor, v models.Viewer, proposalID, text string) error {
	text = strings.TrimSpace(text)
	fields := map[string]string{}
	kit.TextBlock(fields, "text", text, "Write your comment.", 10000)
	if len(fields) > 0 {
		return models.Invalid(fields)
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleMember, "Only members can comment on proposals."); err != nil {
			return err
		}
		if _, err := loadProposal(tx, proposalID); err != nil {
			return err
		}
		c := proposalComment{ID: kit.NewID(), ProposalID: proposalID, AuthorID: v.UserID, Text: text, CreatedAt: g.now()}
		if err := tx.Create(&c).Error; err != nil {
			return fmt.Errorf("insert comment: %w", err)
		}
		return kit.RecordAudit(tx, actor, "proposal.comment", "proposal", proposalID, map[string]any{"comment_id": c.ID})
	})
}

// Support records a member's support of a proposal, once per member.
func (g *Governance) Support(ctx context.Context, actor models.Actor, v models.Viewer, proposalID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleMember, "Only members can support proposals."); err != nil {
			return err
		}
		p, err := loadProposal(tx, proposalID)
		if err != nil {
			return err
		}
		if p.Status != ProposalSubmitted {
			return models.Conflict("This proposal is already on an agenda or decided.")
		}
		s := proposalSupport{ProposalID: proposalID, UserID: v.UserID, CreatedAt: g.now()}
		if err := tx.Create(&s).Error; err != nil {
			if kit.IsUniqueViolation(err) {
				return models.Conflict("You already support this proposal.")
			}
			return fmt.Errorf("insert support: %w", err)
		}
		return kit.RecordAudit(tx, actor, "proposal.support", "proposal", proposalID, nil)
	})
}
