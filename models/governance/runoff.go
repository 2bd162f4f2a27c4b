package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Runoffs in the same assembly (§43(2) GenG). An election by the majority
// of the valid votes that gives a seat to nobody is decided by a runoff,
// and the runoff belongs to the same assembly: its result must be known
// before the assembly ends. So the board or the chair closes that
// election's vote on its own (CloseItem) once its announced period is over
// — or earlier when the whole electorate has voted on it — which counts it
// and shows its result; then opens the runoff (OpenRunoff) between the
// candidates with the most votes, two per open seat and those tied at the
// cut, as a new election item with its own voting window. The runoff is
// decided by plurality among its candidates. The assembly closes when the
// runoff's window is over; the result file and the minutes carry both
// rounds (the runoff names its first round in runoff_of).
//
// Elections with encrypted ballots (election.go) are refused: their count
// is decrypted by the trustees only after the vote of the whole assembly
// has ended, and a runoff with plaintext secret ballots would give up the
// secrecy the election key protects.

// maxRunoffDays bounds how long after the announced end of voting a
// runoff may run: it must stay part of the same assembly.
const maxRunoffDays = 7

// requireBoardOrChair: the board runs the vote, the chair conducts the
// assembly; either may close an election's round and open its runoff.
func requireBoardOrChair(tx *gorm.DB, v models.Viewer, a *assemblyRow, msg string) error {
	if a.ChairID != nil && *a.ChairID == v.UserID && v.UserID != "" {
		return nil
	}
	return requireRole(tx, v, account.RoleBoard, msg)
}

// electionRound loads an election item of an assembly open for voting.
func electionRound(tx *gorm.DB, v models.Viewer, assemblyID, itemID string) (*assemblyRow, *AgendaItem, error) {
	a, err := loadAssembly(tx, assemblyID, true)
	if err != nil {
		return nil, nil, err
	}
	if err := requireBoardOrChair(tx, v, a, "Only the board or the chair can close an election's round or open its runoff."); err != nil {
		return nil, nil, err
	}
	if a.Status != AssemblyVoting {
		return nil, nil, models.Conflict("Voting on this assembly is not open.")
	}
	items, err := loadItems(tx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	i := slices.IndexFunc(items, func(it AgendaItem) bool { return it.ID == itemID })
	if i < 0 {
		return nil, nil, models.NotFoundError("agenda item")
	}
	if items[i].Kind != ItemElection {
		return nil, nil, models.Conflict("Only an election closes before the assembly, so that its runoff can follow; other items close with the assembly.")
	}
	return a, &items[i], nil
}

// CloseItem closes the vote on one election before the assembly's and
// counts it, so that a runoff can follow in the same assembly.
func (g *Governance) CloseItem(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID string) (*ItemResult, error) {
	var out *ItemResult
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, it, err := electionRound(tx, v, assemblyID, itemID)
		if err != nil {
			return err
		}
		if it.ClosedAt != nil {
			return models.Conflict("The vote on this election has already closed.")
		}
		if it.Secret {
			return models.Conflict("This election takes encrypted ballots: the trustees decrypt its count only after the vote of the whole assembly has ended, so its runoff cannot be held in this assembly (a runoff with plaintext secret ballots would give up the secrecy the election key protects). The result will name the runoff candidates; put the runoff on the agenda of a later assembly.")
		}
		now := g.now()
		end := a.VotingEnd
		if it.VotingEnd != nil {
			end = *it.VotingEnd
		}
		if now.Before(end) {
			missing, err := missingItemVotes(tx, it.ID)
			if err != nil {
				return err
			}
			if missing > 0 {
				return models.Conflictf("Voting on this election runs until %s as announced; %d vote(s) of the electorate are not yet cast, so it cannot close early.",
					models.Moment(end), missing)
			}
		}
		results, _, err := countItems(tx, a, []AgendaItem{*it})
		if err != nil {
			return err
		}
		r := results[0]
		blob, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode round: %w", err)
		}
		if err := tx.Model(&itemRow{}).Where("id = ?", it.ID).Updates(map[string]any{
			"closed_at": now.Truncate(time.Second), "round_result": string(blob)}).Error; err != nil {
			return fmt.Errorf("close item: %w", err)
		}
		out = &r
		return kit.RecordAudit(tx, actor, "assembly.close_item", "agenda_item", it.ID, map[string]any{
			"assembly_id": a.ID, "elected": r.Elected, "runoff": r.Runoff, "tie": r.Tie})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// missingItemVotes counts the ballots the electorate could still cast on
// one item (those excluded from it apart).
func missingItemVotes(tx *gorm.DB, itemID string) (int, error) {
	var n int64
	err := tx.Raw(`SELECT
			(SELECT COUNT(*) FROM electorate e WHERE e.assembly_id = i.assembly_id
				AND NOT EXISTS (SELECT 1 FROM item_exclusions x WHERE x.item_id = i.id AND x.user_id = e.user_id))
			- (SELECT COUNT(*) FROM vote_records r WHERE r.item_id = i.id)
		FROM agenda_items i WHERE i.id = ?`, itemID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count missing votes: %w", err)
	}
	return int(n), nil
}

// OpenRunoff puts the runoff of a closed election round on the agenda,
// taking ballots from now until end. Its candidates are the round's runoff
// list in the order of their votes; it fills the seats the round left open,
// by plurality, with the round's ballot kind, organ and exclusions.
func (g *Governance) OpenRunoff(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, itemID string, end time.Time) (*AgendaItem, error) {
	var out *AgendaItem
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		a, it, err := electionRound(tx, v, assemblyID, itemID)
		if err != nil {
			return err
		}
		switch {
		case it.ClosedAt == nil || it.Round == nil:
			return models.Conflict("Close the vote on this election first: its count decides whether a runoff is needed and between whom.")
		case it.RunoffItemID != "":
			return models.Conflict("The runoff of this election is already on the agenda.")
		case it.RunoffOf != "":
			return models.Conflict("A runoff is decided by plurality; it has no runoff of its own.")
		case len(it.Round.Runoff) == 0:
			return models.Conflict("No runoff is needed: " + strings.TrimSuffix(declaration(*it.Round), "."))
		}
		now := g.now()
		latest := a.VotingEnd.Add(maxRunoffDays * 24 * time.Hour)
		if it.VotingEnd != nil && it.VotingEnd.After(a.VotingEnd) {
			latest = it.VotingEnd.Add(maxRunoffDays * 24 * time.Hour)
		}
		switch {
		case end.IsZero():
			return models.Invalid(map[string]string{"end": "Enter when voting on the runoff ends."})
		case !end.After(now.Add(time.Minute)):
			return models.Invalid(map[string]string{"end": "The runoff's vote must end in the future, so that members can vote."})
		case end.After(latest):
			return models.Invalidf("end", "The runoff belongs to this assembly: its vote must end within %d days of the announced end, by %s.",
				maxRunoffDays, models.Moment(latest))
		}
		var last *int
		if err := tx.Model(&itemRow{}).Where("assembly_id = ?", a.ID).Select("MAX(position)").Scan(&last).Error; err != nil {
			return fmt.Errorf("number agenda item: %w", err)
		}
		start, stop := now.Truncate(time.Second), end.UTC().Truncate(time.Second)
		row := itemRow{ID: kit.NewID(), AssemblyID: a.ID, Position: *last + 1, Title: "Runoff: " + it.Title,
			Description: fmt.Sprintf("Runoff (§43(2) GenG) of item %d, %q: nobody won the seat(s) below with more than half of the valid votes. The candidate(s) with the most votes are elected.", it.Position, it.Title),
			Kind:        ItemElection, Secret: it.Secret, Seats: it.Seats - len(it.Round.Elected), Organ: it.Organ,
			ElectionMethod: rulebook.ElectionPlurality, RunoffOf: &it.ID, VotingStart: &start, VotingEnd: &stop}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert runoff: %w", err)
		}
		item := row.item()
		for _, name := range it.Round.Runoff {
			i := slices.IndexFunc(it.Candidates, func(c Candidate) bool { return c.Name == name })
			if i < 0 {
				return fmt.Errorf("runoff candidate %q not on item %s", name, it.ID)
			}
			c := candidateRow{ID: kit.NewID(), ItemID: row.ID, Position: len(item.Candidates) + 1, Name: name}
			if uid := it.Candidates[i].UserID; uid != "" {
				c.UserID = &uid
			}
			if err := tx.Create(&c).Error; err != nil {
				return fmt.Errorf("insert runoff candidate: %w", err)
			}
			item.Candidates = append(item.Candidates, Candidate{ID: c.ID, Name: c.Name, UserID: it.Candidates[i].UserID})
		}
		for _, u := range it.ExcludedUserIDs {
			if err := tx.Create(&exclusionRow{ItemID: row.ID, UserID: u}).Error; err != nil {
				return fmt.Errorf("insert excluded voter: %w", err)
			}
		}
		item.ExcludedUserIDs = it.ExcludedUserIDs
		out = &item
		return kit.RecordAudit(tx, actor, "assembly.open_runoff", "agenda_item", row.ID, map[string]any{
			"assembly_id": a.ID, "runoff_of": it.ID, "candidates": it.Round.Runoff, "seats": row.Seats,
			"voting_end": stop.Format(time.RFC3339)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openRunoffs refuses to end an assembly's vote while a runoff's own
// window runs, unless the whole electorate has voted on it.
func openRunoffs(tx *gorm.DB, assemblyID string, now time.Time) error {
	var rows []itemRow
	if err := tx.Where("assembly_id = ? AND runoff_of IS NOT NULL AND closed_at IS NULL AND voting_end > ?", assemblyID, now).
		Order("position").Find(&rows).Error; err != nil {
		return fmt.Errorf("load runoffs: %w", err)
	}
	for _, r := range rows {
		missing, err := missingItemVotes(tx, r.ID)
		if err != nil {
			return err
		}
		if missing > 0 {
			return models.Conflictf("The runoff %q takes votes until %s; %d vote(s) of the electorate are not yet cast, so the assembly cannot close before.",
				r.Title, models.Moment(*r.VotingEnd), missing)
		}
	}
	return nil
}
