package governance

import (
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"fmt"
	"slices"
	"sort"

	"gorm.io/gorm"
)

// roleSupervisory is the role of the supervisory board's members (granted
// by membership's organs; the string is the role's name in user_roles).
const roleSupervisory account.Role = "supervisory"

// Voting runs for the whole announced period: every member entitled to
// vote has a right to it, so it closes early only when the whole
// electorate has voted on every item (those excluded from one apart).
// missingVotes counts, over all items, the ballots the electorate could
// still cast.
func missingVotes(tx *gorm.DB, assemblyID string) (int, error) {
	var n int64
	err := tx.Raw(`SELECT COALESCE(SUM(
			(SELECT COUNT(*) FROM electorate e WHERE e.assembly_id = i.assembly_id
				AND NOT EXISTS (SELECT 1 FROM item_exclusions x WHERE x.item_id = i.id AND x.user_id = e.user_id))
			- (SELECT COUNT(*) FROM vote_records r WHERE r.item_id = i.id)), 0)
		FROM agenda_items i WHERE i.assembly_id = ?`, assemblyID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count missing votes: %w", err)
	}
	return int(n), nil
}

// excludeFromDischarge keeps the sitting members of an organ from voting
// on its discharge, and with them the votes they hold by proxy (§43(6)
// GenG): Cast refuses a ballot when the member or the one casting it is
// excluded. Taken when voting opens, so it names who sits then.
func excludeFromDischarge(tx *gorm.DB, actor models.Actor, assemblyID string) error {
	for organ, role := range map[string]account.Role{DischargeBoard: account.RoleBoard, DischargeSupervisory: roleSupervisory} {
		res := tx.Exec(`INSERT INTO item_exclusions (item_id, user_id)
			SELECT i.id, r.user_id FROM agenda_items i JOIN user_roles r ON r.role = ?
			WHERE i.assembly_id = ? AND i.discharge = ?
			AND NOT EXISTS (SELECT 1 FROM item_exclusions x WHERE x.item_id = i.id AND x.user_id = r.user_id)`, string(role), assemblyID, organ)
		if res.Error != nil {
			return fmt.Errorf("exclude %s from its discharge: %w", organ, res.Error)
		}
		if res.RowsAffected > 0 {
			if err := kit.RecordAudit(tx, actor, "assembly.discharge_exclusions", "assembly", assemblyID,
				map[string]any{"organ": organ, "excluded": res.RowsAffected}); err != nil {
				return err
			}
		}
	}
	return nil
}

// overrideProxy ends the proxy of a member who votes in person: their own
// vote overrides the authority they gave (§43(5) GenG leaves the right to
// vote with the member). Votes the proxy already cast for them stand.
func overrideProxy(tx *gorm.DB, actor models.Actor, assemblyID, member string) error {
	if err := tx.Exec(`UPDATE electorate SET holder_id = NULL WHERE assembly_id = ? AND user_id = ?`, assemblyID, member).Error; err != nil {
		return fmt.Errorf("end proxy: %w", err)
	}
	return kit.RecordAudit(tx, actor, "assembly.proxy_overridden", "assembly", assemblyID, map[string]any{"member": member})
}

// applyMajority turns a plurality count into an election by the majority
// of the valid votes (§43(2) GenG, unless the bylaws choose plurality): a
// candidate ranked within the seats is elected only with more than half of
// the non-empty ballots; the seats left open go to a runoff between the
// next candidates, two per open seat (more on a tie at the cut).
func applyMajority(r *ItemResult, it AgendaItem) {
	valid := r.Cast - r.Abstain
	var elected []string
	for _, name := range r.Elected {
		if 2*r.CandidateVotes[name] > valid {
			elected = append(elected, name)
		}
	}
	open := it.Seats - len(elected)
	r.Elected, r.Tie, r.Runoff = elected, nil, nil
	if open > 0 && valid > 0 {
		var rest []Candidate
		for _, c := range it.Candidates {
			if !slices.Contains(elected, c.Name) && r.CandidateVotes[c.Name] > 0 {
				rest = append(rest, c)
			}
		}
		sort.SliceStable(rest, func(i, j int) bool { return r.CandidateVotes[rest[i].Name] > r.CandidateVotes[rest[j].Name] })
		for i, c := range rest {
			if i >= 2*open && r.CandidateVotes[c.Name] < r.CandidateVotes[rest[2*open-1].Name] {
				break
			}
			r.Runoff = append(r.Runoff, c.Name)
		}
	}
	r.Adopted = len(r.Elected) > 0 && len(r.Runoff) == 0
}
