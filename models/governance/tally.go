package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"allmende/models/rulebook"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// resultFile is the published record of an assembly's votes. It is
// written once at close; its sha256 is stored beside it and printed in the
// minutes, and Tally recomputes it from the stored ballots byte for byte.
type resultFile struct {
	AssemblyID string       `json:"assembly_id"`
	Title      string       `json:"title"`
	ClosedAt   string       `json:"closed_at"`
	Electorate int          `json:"electorate"`
	Items      []ItemResult `json:"items"`
}

// tally counts the stored ballots of an assembly closed at closedAt.
func tally(tx *gorm.DB, a *assemblyRow, closedAt time.Time) (*AssemblyResults, error) {
	items, err := loadItems(tx, a.ID)
	if err != nil {
		return nil, err
	}
	results, electorate, err := countItems(tx, a, items)
	if err != nil {
		return nil, err
	}
	res := &AssemblyResults{AssemblyID: a.ID, ClosedAt: closedAt, Items: results}
	file := resultFile{AssemblyID: a.ID, Title: a.Title, ClosedAt: closedAt.UTC().Format(time.RFC3339),
		Electorate: electorate, Items: res.Items}
	if file.Items == nil {
		file.Items = []ItemResult{}
	}
	b, err := json.Marshal(file) // struct fields in order, map keys sorted: canonical
	if err != nil {
		return nil, fmt.Errorf("encode results: %w", err)
	}
	sum := sha256.Sum256(b)
	res.ResultFile, res.ResultHash = b, hex.EncodeToString(sum[:])
	return res, nil
}

// countItems counts the stored ballots of the given items of an assembly:
// all of them at the close, or one election whose vote closes before the
// assembly's so that its runoff can follow (runoff.go). It returns the
// results in the items' order and the size of the electorate.
func countItems(tx *gorm.DB, a *assemblyRow, items []AgendaItem) ([]ItemResult, int, error) {
	var electorate int64
	if err := tx.Model(&electorRow{}).Where("assembly_id = ?", a.ID).Count(&electorate).Error; err != nil {
		return nil, 0, fmt.Errorf("count electorate: %w", err)
	}
	var excluded []struct {
		ItemID string
		N      int
	}
	if err := tx.Raw(`SELECT x.item_id, COUNT(*) AS n FROM item_exclusions x
		JOIN agenda_items i ON i.id = x.item_id
		JOIN electorate e ON e.assembly_id = i.assembly_id AND e.user_id = x.user_id
		WHERE i.assembly_id = ? GROUP BY x.item_id`, a.ID).Scan(&excluded).Error; err != nil {
		return nil, 0, fmt.Errorf("count excluded voters: %w", err)
	}
	var named []struct {
		ItemID, Choice, Voter string
		ByName                *string
	}
	if err := tx.Raw(`SELECT b.item_id, b.choice, e.name AS voter, h.name AS by_name
		FROM named_ballots b
		JOIN agenda_items i ON i.id = b.item_id
		JOIN electorate e ON e.assembly_id = i.assembly_id AND e.user_id = b.member_id
		LEFT JOIN electorate h ON h.assembly_id = i.assembly_id AND h.user_id = b.cast_by AND b.cast_by <> b.member_id
		WHERE i.assembly_id = ?`, a.ID).Scan(&named).Error; err != nil {
		return nil, 0, fmt.Errorf("load named ballots: %w", err)
	}

	ballots := map[string][]PublishedBallot{}
	for _, b := range named {
		voter := b.Voter
		if b.ByName != nil {
			voter += " (by proxy " + *b.ByName + ")"
		}
		ballots[b.ItemID] = append(ballots[b.ItemID], PublishedBallot{Voter: voter, Choice: b.Choice})
	}

	encrypted, err := encryptedResults(tx, a, items)
	if err != nil {
		return nil, 0, err
	}
	var results []ItemResult
	for _, it := range items {
		r := ItemResult{ItemID: it.ID, Title: it.Title, Kind: it.Kind, Secret: it.Secret, Electorate: int(electorate),
			MajorityNum: it.MajorityNum, MajorityDen: it.MajorityDen, Quorum: it.Quorum, Ballots: ballots[it.ID], RunoffOf: it.RunoffOf}
		for _, x := range excluded {
			if x.ItemID == it.ID {
				r.Electorate -= x.N
			}
		}
		// A fixed order that says nothing about the order of casting.
		sort.Slice(r.Ballots, func(i, j int) bool {
			bi, bj := r.Ballots[i], r.Ballots[j]
			if bi.Voter != bj.Voter {
				return bi.Voter < bj.Voter
			}
			if bi.Code != bj.Code {
				return bi.Code < bj.Code
			}
			return bi.Choice < bj.Choice
		})
		if r.Ballots == nil {
			r.Ballots = []PublishedBallot{}
		}
		r.Cast = len(r.Ballots)
		if rec := encrypted[it.ID]; rec != nil {
			applyEncrypted(&r, it, rec)
		} else if it.Kind == ItemElection {
			countElection(&r, it)
			if it.ElectionMethod == rulebook.ElectionMajorityRunoff {
				applyMajority(&r, it)
			}
		} else {
			countMotion(&r)
		}
		results = append(results, r)
	}
	return results, int(electorate), nil
}

// countMotion applies the majority to yes and no; abstentions are not
// votes cast (§43(2) GenG). Exactly one half means "more than half";
// qualified majorities mean "at least".
func countMotion(r *ItemResult) {
	for _, b := range r.Ballots {
		switch b.Choice {
		case ChoiceYes:
			r.Yes++
		case ChoiceNo:
			r.No++
		default:
			r.Abstain++
		}
	}
	decideMotion(r)
}

// decideMotion applies the majority to the counted yes and no.
func decideMotion(r *ItemResult) {
	votes := r.Yes + r.No
	if votes == 0 || votes < r.Quorum || r.MajorityDen == 0 {
		return
	}
	if 2*r.MajorityNum == r.MajorityDen {
		r.Adopted = 2*r.Yes > votes
	} else {
		r.Adopted = r.Yes*r.MajorityDen >= r.MajorityNum*votes
	}
}

// countElection elects the candidates with more votes than the first one
// left out: with Seats seats, everyone above the (Seats+1)-th. Those tied
// on the last seat are reported, not drawn: the assembly decides (a runoff
// or the lot, as its rules say).
func countElection(r *ItemResult, it AgendaItem) {
	names := map[string]string{}
	r.CandidateVotes = map[string]int{}
	for _, c := range it.Candidates {
		names[c.ID] = c.Name
		r.CandidateVotes[c.Name] = 0
	}
	for _, b := range r.Ballots {
		if b.Choice == ChoiceAbstain {
			r.Abstain++
			continue
		}
		for _, id := range strings.Split(b.Choice, ",") {
			r.CandidateVotes[names[id]]++
		}
	}
	elect(r, it)
}

// elect decides an election from the counted votes per candidate.
func elect(r *ItemResult, it AgendaItem) {
	ranked := make([]Candidate, len(it.Candidates))
	copy(ranked, it.Candidates)
	sort.SliceStable(ranked, func(i, j int) bool { return r.CandidateVotes[ranked[i].Name] > r.CandidateVotes[ranked[j].Name] })
	cutoff := 0 // votes of the first candidate left out
	if len(ranked) > it.Seats {
		cutoff = r.CandidateVotes[ranked[it.Seats].Name]
	}
	for _, c := range ranked {
		if v := r.CandidateVotes[c.Name]; v > cutoff {
			r.Elected = append(r.Elected, c.Name)
		} else if v == cutoff && v > 0 && len(r.Elected) < it.Seats {
			r.Tie = append(r.Tie, c.Name)
		}
	}
	// The election succeeded if no seat stays open for a tie.
	r.Adopted = len(r.Elected) > 0 && len(r.Tie) == 0
}

// CloseVoting ends the vote, counts, publishes the result file with its
// hash, decides the proposals on the agenda and lets adopted rule changes
// take effect, all in one transaction.
func (g *Governance) CloseVoting(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string) (*AssemblyResults, error) {
	var res *AssemblyResults
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can close the vote."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if err := closable(tx, a); err != nil {
			return err
		}
		// Whole seconds: the time is part of the file and must read back
		// the same from either database.
		now := g.now()
		if err := noEarlyEnd(tx, a, now); err != nil {
			return err
		}
		closedAt := now.Truncate(time.Second)
		if res, err = tally(tx, a, closedAt); err != nil {
			return err
		}
		if err := tx.Model(&assemblyRow{}).Where("id = ?", a.ID).Updates(map[string]any{"status": AssemblyClosed,
			"closed_at": closedAt, "result_file": string(res.ResultFile), "result_hash": res.ResultHash}).Error; err != nil {
			return fmt.Errorf("close assembly: %w", err)
		}
		if err := attend(tx, a.ID, v.UserID, AttendOnline, now); err != nil { // the board member closing it is present
			return err
		}
		items, err := loadItems(tx, a.ID)
		if err != nil {
			return err
		}
		for i, it := range items {
			if it.ProposalID == "" {
				continue
			}
			if err := g.decideProposal(tx, actor, it, res.Items[i].Adopted, closedAt); err != nil {
				return err
			}
		}
		return kit.RecordAudit(tx, actor, "assembly.close", "assembly", a.ID, map[string]any{"result_hash": res.ResultHash,
			"early": closedAt.Before(a.VotingEnd)})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// decideProposal records the outcome of an item's proposal. An adopted
// change of rules that are not bylaw rules becomes a new rule version at
// once, from the date the proposal named, or now if that has passed: a
// decision does not reach back into what members already did. Its bylaw
// rules wait for the entry in the register (§16(6) GenG, registration.go).
func (g *Governance) decideProposal(tx *gorm.DB, actor models.Actor, it AgendaItem, adopted bool, closedAt time.Time) error {
	p, err := loadProposal(tx, it.ProposalID)
	if err != nil {
		return err
	}
	status := ProposalRejected
	if adopted {
		status = ProposalAdopted
	}
	if err := tx.Model(&proposalRow{}).Where("id = ?", p.ID).Update("status", status).Error; err != nil {
		return fmt.Errorf("decide proposal: %w", err)
	}
	if !adopted || p.Kind == ProposalMotion {
		return nil
	}
	values := p.Parameters
	if p.Kind == ProposalText {
		values = map[string]string{p.RuleKey: p.NewText}
	}
	bylaw, other := splitBylawValues(values)
	if len(bylaw) > 0 {
		if err := awaitRegistration(tx, actor, p, it, bylaw, closedAt); err != nil {
			return err
		}
	}
	if len(other) == 0 {
		return nil
	}
	from := p.EffectiveFrom
	if from.Before(closedAt) {
		from = closedAt
	}
	err = rulebook.SetRulesTx(tx, actor, other, from, it.ID, g.now(), "")
	if de, ok := models.AsError(err); ok && de.Fields != nil {
		// The rules changed since the proposal was checked and the
		// combination no longer fits (say, a new maximum below its
		// minimum). The decision stands; the registry keeps its rules and
		// the board must bring the matter back.
		return kit.RecordAudit(tx, actor, "rules.not_applied", "agenda_item", it.ID, map[string]any{"proposal": p.ID, "fields": de.Fields})
	}
	return err
}

// Results are the published results of a closed assembly. Before the close
// nobody sees any, the board neither: a partial count of a secret ballot
// would influence the rest of the vote.
func (g *Governance) Results(ctx context.Context, v models.Viewer, assemblyID string) (*AssemblyResults, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	a, err := loadAssembly(db, assemblyID, false)
	if err != nil {
		return nil, err
	}
	return publishedResults(a)
}

func publishedResults(a *assemblyRow) (*AssemblyResults, error) {
	if a.Status != AssemblyClosed || a.ClosedAt == nil {
		return nil, models.Conflict("The results are published when voting closes.")
	}
	var f resultFile
	if err := json.Unmarshal([]byte(a.ResultFile), &f); err != nil {
		return nil, fmt.Errorf("read result file of %s: %w", a.ID, err)
	}
	return &AssemblyResults{AssemblyID: a.ID, ClosedAt: a.ClosedAt.UTC(), Items: f.Items,
		ResultFile: []byte(a.ResultFile), ResultHash: a.ResultHash}, nil
}

// Tally counts a closed assembly again from the stored ballots, so anyone
// with access to the database can check the published file and its hash.
func (g *Governance) Tally(ctx context.Context, assemblyID string) (*AssemblyResults, error) {
	db := g.db.Gorm.WithContext(ctx)
	a, err := loadAssembly(db, assemblyID, false)
	if err != nil {
		return nil, err
	}
	if a.Status != AssemblyClosed || a.ClosedAt == nil {
		return nil, models.Conflict("The results are published when voting closes.")
	}
	return tally(db, a, a.ClosedAt.UTC())
}

// noEarlyEnd refuses to end a vote before the announced end unless the
// whole electorate has voted: members plan around the announced period.
// Closing a plaintext vote and ending an encrypted one both ask. A runoff
// held in the assembly (runoff.go) runs its own window the same way.
func noEarlyEnd(tx *gorm.DB, a *assemblyRow, now time.Time) error {
	if err := openRunoffs(tx, a.ID, now); err != nil {
		return err
	}
	if !now.Before(a.VotingEnd) {
		return nil
	}
	missing, err := missingVotes(tx, a.ID)
	if err != nil {
		return err
	}
	if missing > 0 {
		return models.Conflictf("Voting runs until %s as announced; %d vote(s) of the electorate are not yet cast, so it cannot close early.",
			models.Moment(a.VotingEnd), missing)
	}
	return nil
}
