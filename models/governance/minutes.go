package governance

import (
	"allmende/models"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Minutes are the record of a closed assembly in Markdown (§47 GenG): the
// place (or the chair's location), the day, the chair, each item with the
// kind and result of its vote and the chair's declaration, objections,
// the questions to the board with their answers and the motions, the list
// of participants and of represented members with their proxies, and the
// invitation and agenda as sent; the hash of the result file holds every
// ballot. Once signed they are the stored text, never regenerated.
func (g *Governance) Minutes(ctx context.Context, v models.Viewer, assemblyID string) (string, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return "", err
	}
	a, err := loadAssembly(db, assemblyID, false)
	if err != nil {
		return "", err
	}
	if a.MinutesText != "" {
		return a.MinutesText, nil
	}
	return g.minutesText(db, a)
}

func (g *Governance) minutesText(tx *gorm.DB, a *assemblyRow) (string, error) {
	res, err := publishedResults(a)
	if err != nil {
		return "", err
	}
	items, err := loadItems(tx, a.ID)
	if err != nil {
		return "", err
	}
	loc := time.UTC
	if a.TimeZone != "" {
		if l, err := time.LoadLocation(a.TimeZone); err == nil {
			loc = l
		}
	}
	chair, err := chairName(tx, a.ChairID)
	if err != nil {
		return "", err
	}
	objections, err := loadObjections(tx, a.ID)
	if err != nil {
		return "", err
	}
	contribs, err := loadContributions(tx, "c.assembly_id = ? AND c.kind IN ?", a.ID, []string{ContribQuestion, ContribAnswer, ContribAmendment, ContribProcedural})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Minutes of the general assembly: %s\n\n", mdEscape(a.Title))
	fmt.Fprintf(&b, "- Form: %s\n", formNames[a.Form])
	if a.Place != "" {
		fmt.Fprintf(&b, "- Place: %s\n", mdEscape(a.Place))
	}
	fmt.Fprintf(&b, "- Day: %s\n", a.noticeFrom().In(loc).Format("2006-01-02"))
	if chair != "" {
		fmt.Fprintf(&b, "- Chair: %s\n", mdEscape(chair))
		if a.ChairLocation != "" {
			fmt.Fprintf(&b, "- Chair's location: %s\n", mdEscape(a.ChairLocation))
		}
	}
	if a.DiscussionStart != nil && a.DiscussionEnd != nil {
		fmt.Fprintf(&b, "- Discussion: %s to %s\n", mdEscape(formatIn(*a.DiscussionStart, loc)), mdEscape(formatIn(*a.DiscussionEnd, loc)))
	}
	fmt.Fprintf(&b, "- Voting: %s to %s\n", mdEscape(formatIn(a.VotingStart, loc)), mdEscape(formatIn(a.VotingEnd, loc)))
	if a.InvitedAt != nil {
		fmt.Fprintf(&b, "- Invitations sent: %s\n", mdEscape(formatIn(*a.InvitedAt, loc)))
	}
	if a.SecondNoticeAt != nil {
		fmt.Fprintf(&b, "- Supplementary notice sent: %s\n", mdEscape(formatIn(*a.SecondNoticeAt, loc)))
	}
	if a.OpenedAt != nil {
		fmt.Fprintf(&b, "- Voting opened: %s\n", mdEscape(formatIn(*a.OpenedAt, loc)))
	}
	fmt.Fprintf(&b, "- Voting closed: %s\n", mdEscape(formatIn(res.ClosedAt, loc)))
	var f resultFile
	if err := json.Unmarshal(res.ResultFile, &f); err != nil {
		return "", fmt.Errorf("read result file of %s: %w", a.ID, err)
	}
	fmt.Fprintf(&b, "- Members entitled to vote: %d\n", f.Electorate)
	fmt.Fprintf(&b, "- Result file SHA-256: `%s`\n", res.ResultHash)
	if a.Description != "" {
		fmt.Fprintf(&b, "\n%s", mdQuote(a.Description))
	}
	for i, r := range res.Items {
		fmt.Fprintf(&b, "\n## %d. %s\n\n", i+1, mdEscape(r.Title))
		if i >= len(items) {
			continue
		}
		it := items[i]
		if it.Description != "" {
			fmt.Fprintf(&b, "%s\n", mdQuote(it.Description))
		}
		writeItemResult(&b, r, it)
		if it.Declaration != "" {
			fmt.Fprintf(&b, "\nDeclaration of the chair: %s\n", mdEscape(it.Declaration))
		}
		for _, o := range objections {
			if o.ItemID == it.ID {
				fmt.Fprintf(&b, "\nObjection for the minutes by %s:\n%s", mdEscape(o.Name), mdQuote(o.Text))
			}
		}
	}
	if len(contribs) > 0 {
		b.WriteString("\n## Questions to the board and motions\n\n")
		for _, c := range contribs {
			fmt.Fprintf(&b, "%s by %s (%s):\n%s", contributionLabel(c), mdEscape(c.AuthorName), mdEscape(formatIn(c.CreatedAt, loc)), mdQuote(c.Text))
		}
	}
	if err := writeParticipants(&b, tx, a.ID); err != nil {
		return "", err
	}
	if a.InvitationText != "" {
		fmt.Fprintf(&b, "\n## Invitation and agenda as sent\n\n%s", mdQuote(a.InvitationText))
	}
	return b.String(), nil
}

func contributionLabel(c Contribution) string {
	switch c.Kind {
	case ContribQuestion:
		return "Question to the board"
	case ContribAnswer:
		return "Answer of the board"
	case ContribAmendment:
		return "Amendment (" + motionStatusName(c.Status) + ")"
	case ContribProcedural:
		return "Procedural motion (" + motionStatusName(c.Status) + ")"
	}
	return "Speech"
}

func motionStatusName(s string) string {
	switch s {
	case MotionAdmitted:
		return "admitted by the chair"
	case MotionRejected:
		return "rejected by the chair"
	case MotionVoting:
		return "put to the vote"
	}
	return "not decided"
}

// writeParticipants lists who took part (present, or voting themselves)
// and the members represented by proxies.
func writeParticipants(b *strings.Builder, tx *gorm.DB, assemblyID string) error {
	present, err := loadAttendance(tx, assemblyID)
	if err != nil {
		return err
	}
	var voters []struct{ UserID, Name string }
	if err := tx.Raw(`SELECT e.user_id, e.name FROM electorate e WHERE e.assembly_id = ? AND e.holder_id IS NULL
		AND EXISTS (SELECT 1 FROM vote_records r JOIN agenda_items i ON i.id = r.item_id WHERE i.assembly_id = e.assembly_id AND r.member_id = e.user_id)
		ORDER BY e.name, e.user_id`, assemblyID).Scan(&voters).Error; err != nil {
		return fmt.Errorf("load voters: %w", err)
	}
	var represented []struct{ Name, Holder string }
	if err := tx.Raw(`SELECT e.name, h.name AS holder FROM electorate e JOIN electorate h ON h.assembly_id = e.assembly_id AND h.user_id = e.holder_id
		WHERE e.assembly_id = ? ORDER BY e.name, e.user_id`, assemblyID).Scan(&represented).Error; err != nil {
		return fmt.Errorf("load represented members: %w", err)
	}
	b.WriteString("\n## Participants\n\n")
	seen := map[string]bool{}
	for _, p := range present {
		mode := "online"
		if p.Mode == AttendInPerson {
			mode = "in person"
		}
		fmt.Fprintf(b, "- %s (%s)\n", mdEscape(p.Name), mode)
		seen[p.UserID] = true
	}
	for _, v := range voters {
		if !seen[v.UserID] {
			fmt.Fprintf(b, "- %s (voted)\n", mdEscape(v.Name))
		}
	}
	if len(present) == 0 && len(voters) == 0 {
		b.WriteString("None recorded.\n")
	}
	if len(represented) > 0 {
		b.WriteString("\nRepresented by proxy:\n\n")
		for _, r := range represented {
			fmt.Fprintf(b, "- %s, by %s\n", mdEscape(r.Name), mdEscape(r.Holder))
		}
	}
	return nil
}

// writeItemResult writes the kind and result of an item's vote.
func writeItemResult(b *strings.Builder, r ItemResult, it AgendaItem) {
	ballot := "named ballot"
	if r.Secret {
		ballot = "secret ballot"
	}
	if r.Kind == ItemElection {
		if it.RunoffOf != "" {
			b.WriteString("Second round: the runoff (§43(2) GenG) of the election above, held in this assembly; decided by plurality among its candidates")
			if it.VotingEnd != nil {
				fmt.Fprintf(b, ", voting until %s", it.VotingEnd.UTC().Format("2006-01-02 15:04 UTC"))
			}
			b.WriteString(".\n\n")
		} else if it.RunoffItemID != "" && it.ClosedAt != nil {
			fmt.Fprintf(b, "First round; its vote closed on %s so that the runoff could follow in this assembly.\n\n", it.ClosedAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		fmt.Fprintf(b, "Election by %s, %d seat(s). Ballots: %d of %d entitled (%d empty).\n\n", ballot, it.Seats, r.Cast, r.Electorate, r.Abstain)
		names := make([]string, 0, len(r.CandidateVotes))
		for n := range r.CandidateVotes {
			names = append(names, n)
		}
		sort.Slice(names, func(x, y int) bool {
			if r.CandidateVotes[names[x]] != r.CandidateVotes[names[y]] {
				return r.CandidateVotes[names[x]] > r.CandidateVotes[names[y]]
			}
			return names[x] < names[y]
		})
		b.WriteString("| Candidate | Votes |\n|---|---:|\n")
		for _, n := range names {
			fmt.Fprintf(b, "| %s | %d |\n", mdEscape(n), r.CandidateVotes[n])
		}
		b.WriteString("\n")
		if len(r.Elected) > 0 {
			fmt.Fprintf(b, "**Elected:** %s\n", mdEscape(strings.Join(r.Elected, ", ")))
		} else {
			b.WriteString("**Nobody elected.**\n")
		}
		if len(r.Tie) > 0 {
			fmt.Fprintf(b, "\n**Tie** for the remaining seat(s) between %s: the assembly must decide between them.\n", mdEscape(strings.Join(r.Tie, ", ")))
		}
		if len(r.Runoff) > 0 {
			fmt.Fprintf(b, "\n**Runoff** for the seat(s) nobody won with more than half of the valid votes, between %s.\n", mdEscape(strings.Join(r.Runoff, ", ")))
		}
		return
	}
	fmt.Fprintf(b, "%s, by %s. Required: %s of the votes cast (yes and no; abstentions do not count)", itemKindName(r.Kind), ballot, majorityName(r.MajorityNum, r.MajorityDen))
	if r.Quorum > 0 {
		fmt.Fprintf(b, ", with at least %d votes cast", r.Quorum)
	}
	b.WriteString(".\n\n")
	fmt.Fprintf(b, "| Yes | No | Abstain | Ballots | Entitled |\n|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d |\n\n",
		r.Yes, r.No, r.Abstain, r.Cast, r.Electorate)
	if r.Adopted {
		b.WriteString("**Adopted.**\n")
	} else {
		b.WriteString("**Rejected.**\n")
	}
}

func itemKindName(kind string) string {
	switch kind {
	case ItemBylawChange:
		return "Change of the bylaws"
	case ItemBylawNewDuty:
		return "Change of the bylaws imposing new duties"
	}
	return "Ordinary decision"
}

func majorityName(num, den int) string {
	if 2*num == den {
		return "more than half"
	}
	return fmt.Sprintf("at least %d/%d", num, den)
}

// mdEscape keeps member-written titles and names from turning into markup:
// it stays on one line, every Markdown punctuation mark is backslash-escaped
// and HTML's specials are entities, so the text can neither open a heading,
// table, list, link or emphasis nor carry raw HTML.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			// Control characters are refused on input; old rows lose them here.
		case r < 0x80 && strings.ContainsRune(mdPunct, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdPunct is the ASCII punctuation Markdown may give a meaning to (less the
// HTML specials, which become entities); a backslash makes each literal.
const mdPunct = "\\`*_{}[]()#+-.!|~=:"

// mdQuote sets member-written text (an assembly's or an item's description,
// which may be a member's reasoning) apart as a block quote: every line is
// escaped and starts with "> ", so nothing in it can pass for the minutes'
// own headings, result tables or verdicts. Results come only from the tally.
func mdQuote(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(mdEscape(l)); l == "" {
			b.WriteString(">\n")
			continue
		}
		b.WriteString("> " + l + "\n")
	}
	return b.String()
}
