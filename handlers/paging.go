package handlers

import (
	"maps"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/views"
)

// Every long list of the web pages pages the same way: numbered pages
// (?page= from 1, ?per_page= bounded), read by pageParams and shown by
// views.Pager with the list's search kept. The API keeps what its
// documentation promises per list: numbered pages for VMs and the
// register, a cursor (?before=, ?limit=) for tasks and proposals, read by
// cursorParams.

// maxPage bounds ?page= so that the offset it makes cannot overflow.
const maxPage = 1_000_000

// paging is which page of a long list a request asks for: ?page= counts
// from 1, ?per_page= is bounded so that no request reads a whole table.
type paging struct {
	Page, PerPage int
	askedPerPage  bool // ?per_page= was given, so the pager keeps it
}

// Offset is how many entries the pages before this one hold.
func (p paging) Offset() int { return (p.Page - 1) * p.PerPage }

// HasNext is whether entries follow this page among total.
func (p paging) HasNext(total int) bool { return p.Page*p.PerPage < total }

// View is the pager under the list at path, which holds total entries
// and keeps query (its search and filters) from page to page.
func (p paging) View(path string, query url.Values, total int) views.Paging {
	if p.PerPage == 0 {
		p.PerPage = 1 // the zero paging of a request that failed before it was read
	}
	if p.askedPerPage {
		query = maps.Clone(query)
		if query == nil {
			query = url.Values{}
		}
		query.Set("per_page", strconv.Itoa(p.PerPage))
	}
	return views.Paging{Path: path, Query: query, Page: p.Page, PerPage: p.PerPage, Total: total}
}

// pageParams reads ?page= and ?per_page=; a value that is not a positive
// number (or too many per page) is a 400 naming the parameter.
func pageParams(c echo.Context, perPage, maxPerPage int) (paging, error) {
	p := paging{Page: 1, PerPage: perPage}
	if v := strings.TrimSpace(c.QueryParam("page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return p, models.BadQueryf("page", "page must be a whole number from 1.")
		}
		p.Page = n
	}
	if v := strings.TrimSpace(c.QueryParam("per_page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return p, models.BadQueryf("per_page", "per_page must be a whole number from 1 to %d.", maxPerPage)
		}
		p.PerPage, p.askedPerPage = n, true
	}
	return p, nil
}

// cursor is a page of an API list that pages by its last entry: Before
// is the id of the previous page's last entry ("" for the first page).
type cursor struct {
	Before string
	Limit  int
}

// cursorParams reads ?before= and ?limit= (default limit, at most
// maxLimit); a limit that is not a number in range is a 400 naming it.
// Whether before names an entry is the domain's to say.
func cursorParams(c echo.Context, limit, maxLimit int) (cursor, error) {
	cur := cursor{Before: strings.TrimSpace(c.QueryParam("before")), Limit: limit}
	if v := strings.TrimSpace(c.QueryParam("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return cur, models.BadQueryf("limit", "limit must be a whole number from 1 to %d.", maxLimit)
		}
		cur.Limit = n
	}
	return cur, nil
}
