package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/membership"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// An election to an organ (the board, the supervisory board, the appeals
// committee) has members' accounts as candidates; once the assembly has
// closed, the board records its result as appointments with a term through
// the membership domain's organs, which grant the organ's role.

var electedOrgans = []string{string(membership.OrganBoard), string(membership.OrganSupervisoryBoard), string(membership.OrganAppealsCommittee)}

type candidateAccount struct{ ID, Name string }

type candidateAccounts []candidateAccount

func (c candidateAccounts) id(i int) string {
	if c == nil {
		return ""
	}
	return c[i].ID
}

// organCandidates resolves the candidates of an election to an organ, given
// as emails, to members in good standing; nil for other elections.
func organCandidates(tx *gorm.DB, organ string, emails []string) (candidateAccounts, error) {
	if organ == "" {
		return nil, nil
	}
	out := make(candidateAccounts, len(emails))
	for i, e := range emails {
		var u account.User
		if err := tx.Where("email = ?", account.NormalizeEmail(e)).Limit(1).Find(&u).Error; err != nil {
			return nil, fmt.Errorf("find candidate: %w", err)
		}
		m, err := inGoodStanding(tx, u.ID)
		if err != nil {
			return nil, err
		}
		if u.ID == "" || m == nil {
			return nil, models.Invalid(map[string]string{"candidates": "Name the candidates of an election to an organ by the email of their membership; " + e + " is no member in good standing."})
		}
		out[i] = candidateAccount{ID: u.ID, Name: u.Name}
	}
	return out, nil
}

// AppointElected records the elected candidates of a closed election to an
// organ as appointments for the term from termStart to termEnd (the board
// records election results). A runoff or tie appoints nobody yet.
func (g *Governance) AppointElected(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID string, termStart, termEnd time.Time) (int, error) {
	if g.organs == nil {
		return 0, fmt.Errorf("appoint elected: no organs service")
	}
	n := 0
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board records the result of an election."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		res, err := publishedResults(a)
		if err != nil {
			return err
		}
		items, err := loadItems(tx, a.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(items, func(it AgendaItem) bool { return it.ID == itemID })
		if i < 0 || i >= len(res.Items) {
			return models.NotFoundError("agenda item")
		}
		it, r := items[i], res.Items[i]
		// A runoff held in the assembly appoints the elected of both
		// rounds: those with the majority in the first and its winners.
		elected, candidates, marked := r.Elected, it.Candidates, []string{it.ID}
		if it.RunoffOf != "" {
			j := slices.IndexFunc(items, func(f AgendaItem) bool { return f.ID == it.RunoffOf })
			if j < 0 || j >= len(res.Items) {
				return fmt.Errorf("first round %s of runoff %s missing", it.RunoffOf, it.ID)
			}
			elected = append(slices.Clone(res.Items[j].Elected), r.Elected...)
			candidates = append(slices.Clone(items[j].Candidates), it.Candidates...)
			marked = append(marked, items[j].ID)
		}
		switch {
		case it.Kind != ItemElection || it.Organ == "":
			return models.Conflict("This item is no election to an organ.")
		case it.AppointedAt != nil:
			return models.Conflict("The result of this election has already been recorded.")
		case it.RunoffItemID != "":
			return models.Conflict("This election went to a runoff in the assembly: record the result with the runoff item, which appoints the elected of both rounds.")
		case len(r.Runoff) > 0 || len(r.Tie) > 0 || len(r.Elected) == 0:
			return models.Conflict("Nobody is elected yet: " + strings.TrimSuffix(declaration(r), "."))
		}
		done := map[string]bool{}
		for _, name := range elected {
			for _, c := range candidates {
				if done[c.UserID] {
					continue
				}
				if c.Name != name || c.UserID == "" {
					continue
				}
				_, err := g.organs.AppointTx(ctx, tx, actor, membership.AppointInput{Organ: membership.Organ(it.Organ), UserID: c.UserID,
					TermStart: termStart, TermEnd: termEnd, Source: membership.SourceElection, AssemblyID: a.ID, ItemID: it.ID,
					DecidedOn: a.ClosedAt.UTC()})
				if err != nil {
					return err
				}
				done[c.UserID] = true
				n++
			}
		}
		if err := tx.Model(&itemRow{}).Where("id IN ?", marked).Update("appointed_at", g.now()).Error; err != nil {
			return fmt.Errorf("mark appointed: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.appoint_elected", "agenda_item", it.ID, map[string]any{"organ": it.Organ, "appointed": n})
	})
	if err != nil {
		return 0, err
	}
	account.ForgetSignedInUsers(g.db) // the appointees' roles changed
	return n, nil
}
