package governance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"allmende/models"
	"allmende/models/internal/like"

	"gorm.io/gorm"
)

// ProposalFilter narrows the list of proposals and pages through it,
// newest first.
type ProposalFilter struct {
	Query  string // part of the title, the reasoning or the author's name
	Status string // one of the proposal statuses, or "" for all
	// Before is the id of the last proposal of the previous page (the
	// API's cursor); Offset skips that many instead (the numbered pages).
	Before string
	Offset int
	Limit  int // at most this many (1–100; 0 means DefaultProposalLimit)
}

// DefaultProposalLimit is a page of proposals when the filter names none.
const DefaultProposalLimit = 25

// ProposalStatuses are the statuses a proposal can have, in its life's order.
var ProposalStatuses = []string{ProposalSubmitted, ProposalOnAgenda, ProposalAwaitingRegistration, ProposalAdopted, ProposalRejected}

// ProposalPage is one page of a filtered list; Next is the Before of the
// following page, "" on the last one; Total counts the matches on all pages.
type ProposalPage struct {
	Proposals     []Proposal
	Next          string
	Total         int
	SupportNeeded int // supporters that put a proposal on the agenda today
}

// validate refuses a filter outside what the list's address allows: a
// malformed request (400), as with the member register's filter.
func (f *ProposalFilter) validate() error {
	f.Query, f.Status, f.Before = strings.TrimSpace(f.Query), strings.TrimSpace(f.Status), strings.TrimSpace(f.Before)
	switch {
	case f.Status != "" && !slices.Contains(ProposalStatuses, f.Status):
		return models.BadQuery("status", "Choose a status from the list.")
	case len([]rune(f.Query)) > 200:
		return models.BadQuery("q", "Search for at most 200 characters.")
	case f.Offset < 0:
		return models.BadQuery("page", "page must be a whole number from 1.")
	case f.Limit < 0 || f.Limit > 100:
		return models.BadQuery("limit", "Ask for 1 to 100 proposals at a time.")
	case f.Limit == 0:
		f.Limit = DefaultProposalLimit
	}
	return nil
}

// FindProposals lists the proposals matching f, newest first, a page at a
// time. The API pages by the last proposal seen (Before), so a proposal
// filed meanwhile neither repeats nor hides one on its next page; the web
// pages by Offset, with numbered pages from Total.
func (g *Governance) FindProposals(ctx context.Context, v models.Viewer, f ProposalFilter) (ProposalPage, error) {
	if err := f.validate(); err != nil {
		return ProposalPage{}, err
	}
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return ProposalPage{}, err
	}
	var conds []string
	var args []any
	if f.Query != "" {
		pat := "%" + like.Escape(strings.ToLower(f.Query)) + "%"
		conds = append(conds, `(LOWER(p.title) LIKE ? ESCAPE '\' OR LOWER(p.reasoning) LIKE ? ESCAPE '\' OR LOWER(u.name) LIKE ? ESCAPE '\')`)
		args = append(args, pat, pat, pat)
	}
	if f.Status != "" {
		conds = append(conds, "p.status = ?")
		args = append(args, f.Status)
	}
	var total int64
	count := "SELECT COUNT(*) FROM proposals p JOIN users u ON u.id = p.author_id"
	if len(conds) > 0 {
		count += " WHERE " + strings.Join(conds, " AND ")
	}
	if err := db.Raw(count, args...).Scan(&total).Error; err != nil {
		return ProposalPage{}, fmt.Errorf("count proposals: %w", err)
	}
	if f.Before != "" {
		var last proposalRow
		err := db.Where("id = ?", f.Before).Take(&last).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ProposalPage{}, models.BadQuery("before", "This page no longer exists: start from the first page.")
		}
		if err != nil {
			return ProposalPage{}, fmt.Errorf("load proposal %s: %w", f.Before, err)
		}
		conds = append(conds, "(p.created_at < ? OR (p.created_at = ? AND p.id < ?))")
		args = append(args, last.CreatedAt, last.CreatedAt, last.ID)
	}
	ps, err := loadProposalsLimit(db, strings.Join(conds, " AND "), f.Limit+1, f.Offset, args...)
	if err != nil {
		return ProposalPage{}, err
	}
	page := ProposalPage{Proposals: ps, Total: int(total)}
	if page.SupportNeeded, err = supportNeeded(db, g.now()); err != nil {
		return ProposalPage{}, err
	}
	if len(ps) > f.Limit {
		page.Proposals = ps[:f.Limit]
		page.Next = ps[f.Limit-1].ID
	}
	return page, nil
}
