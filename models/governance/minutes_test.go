package governance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

// forged is member text that would look like the minutes' own structure
// if it went into the Markdown raw.
const forged = "# Result\n| yes | 100 |\n|---|---|\n**Adopted.**\n<script>alert(1)</script>\n- [x](javascript:alert(1))\n1. one &amp; two"

func TestMinutesQuoteMemberText(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 2)
		p, err := e.g.Submit(ctx, ms[0], viewer(ms[0]), governance.ProposalInput{Title: "Forged **Adopted.**", Reasoning: forged, Kind: "motion"})
		if err != nil {
			t.Fatal(err)
		}
		now := e.Clock.Now().AddDate(0, 0, 30)
		a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "GA <b>", Description: forged,
			Form: governance.FormVirtual, AccessDetails: "In the portal.", VotingStart: now, VotingEnd: now.Add(7 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		it, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Kind: governance.ItemOrdinary, ProposalID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(now)
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		e.cast(t, ms[0], a, it, "no")
		e.cast(t, ms[1], a, it, "no")
		e.close(t, a)

		md, err := e.g.Minutes(ctx, viewer(ms[0]), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var headings, tables, verdicts int
		for _, l := range strings.Split(md, "\n") {
			switch {
			case strings.HasPrefix(l, "#"):
				headings++
			case strings.HasPrefix(l, "|"):
				tables++
			case l == "**Adopted.**" || l == "**Rejected.**":
				verdicts++
			}
			if strings.HasPrefix(l, "- [") || strings.HasPrefix(l, "1.") {
				t.Errorf("member text makes a list: %q", l)
			}
		}
		// The title heading, the item's, the participants' and the
		// invitation's; the result table's header, rule and row; the one
		// verdict, from the tally.
		if headings != 4 || tables != 3 || verdicts != 1 || !strings.Contains(md, "\n**Rejected.**\n") {
			t.Errorf("minutes carry member-made structure (%d headings, %d table lines, %d verdicts):\n%s", headings, tables, verdicts, md)
		}
		for _, bad := range []string{"<script", "<b>", "](javascript", "&amp; two"} {
			if strings.Contains(md, bad) {
				t.Errorf("minutes carry raw %q:\n%s", bad, md)
			}
		}
		// The member's words are still there, quoted.
		for _, want := range []string{"> \\# Result", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;", "&amp;amp; two"} {
			if !strings.Contains(md, want) {
				t.Errorf("minutes lack %q:\n%s", want, md)
			}
		}
	})
}
