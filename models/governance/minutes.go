package governance

import (
	"allmende/models"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Minutes are the record of a closed assembly in Markdown (§47 GenG asks
// for minutes of every decision): the assembly, each item with its count,
// the majority it needed and its outcome, and the hash of the result file
// that holds every ballot.
func (g *Governance) Minutes(ctx context.Context, v models.Viewer, assemblyID string) (string, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return "", err
	}
	a, err := loadAssembly(db, assemblyID, false)
	if err != nil {
		return "", err
	}
	res, err := publishedResults(a)
	if err != nil {
		return "", err
	}
	items, err := loadItems(db, a.ID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Minutes of the general assembly: %s\n\n", mdEscape(a.Title))
	fmt.Fprintf(&b, "- Form: %s\n", formNames[a.Form])
	if a.DiscussionStart != nil && a.DiscussionEnd != nil {
		fmt.Fprintf(&b, "- Discussion: %s to %s\n", formatWhen(a.DiscussionStart.UTC()), formatWhen(a.DiscussionEnd.UTC()))
	}
	fmt.Fprintf(&b, "- Voting: %s to %s\n", formatWhen(a.VotingStart.UTC()), formatWhen(a.VotingEnd.UTC()))
	if a.InvitedAt != nil {
		fmt.Fprintf(&b, "- Invitations sent: %s\n", formatWhen(a.InvitedAt.UTC()))
	}
	if a.OpenedAt != nil {
		fmt.Fprintf(&b, "- Voting opened: %s\n", formatWhen(a.OpenedAt.UTC()))
	}
	fmt.Fprintf(&b, "- Voting closed: %s\n", formatWhen(res.ClosedAt))
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
		if i < len(items) && items[i].Description != "" {
			fmt.Fprintf(&b, "%s\n", mdQuote(items[i].Description))
		}
		ballot := "named ballot"
		if r.Secret {
			ballot = "secret ballot"
		}
		if r.Kind == ItemElection {
			fmt.Fprintf(&b, "Election by %s, %d seat(s). Ballots: %d of %d entitled (%d empty).\n\n", ballot, items[i].Seats, r.Cast, r.Electorate, r.Abstain)
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
				fmt.Fprintf(&b, "| %s | %d |\n", mdEscape(n), r.CandidateVotes[n])
			}
			b.WriteString("\n")
			if len(r.Elected) > 0 {
				fmt.Fprintf(&b, "**Elected:** %s\n", mdEscape(strings.Join(r.Elected, ", ")))
			} else {
				b.WriteString("**Nobody elected.**\n")
			}
			if len(r.Tie) > 0 {
				fmt.Fprintf(&b, "\n**Tie** for the remaining seat(s) between %s: the assembly must decide between them.\n", mdEscape(strings.Join(r.Tie, ", ")))
			}
			continue
		}
		fmt.Fprintf(&b, "%s, by %s. Required: %s of the votes cast (yes and no; abstentions do not count)", itemKindName(r.Kind), ballot, majorityName(r.MajorityNum, r.MajorityDen))
		if r.Quorum > 0 {
			fmt.Fprintf(&b, ", with at least %d votes cast", r.Quorum)
		}
		b.WriteString(".\n\n")
		fmt.Fprintf(&b, "| Yes | No | Abstain | Ballots | Entitled |\n|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d |\n\n",
			r.Yes, r.No, r.Abstain, r.Cast, r.Electorate)
		if r.Adopted {
			b.WriteString("**Adopted.**\n")
		} else {
			b.WriteString("**Rejected.**\n")
		}
	}
	return b.String(), nil
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
