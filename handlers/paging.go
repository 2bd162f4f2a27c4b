package handlers

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
)

// paging is which page of a long list a request asks for: ?page= counts
// from 1, ?per_page= is bounded so that no request reads a whole table.
type paging struct {
	Page, PerPage int
}

// Offset is how many entries the pages before this one hold.
func (p paging) Offset() int { return (p.Page - 1) * p.PerPage }

// pageParams reads ?page= and ?per_page=; a value that is not a positive
// number (or too many per page) is a 400 naming the parameter.
func pageParams(c echo.Context, perPage, maxPerPage int) (paging, error) {
	p := paging{Page: 1, PerPage: perPage}
	if v := strings.TrimSpace(c.QueryParam("page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, models.BadQuery("page", "page must be a whole number from 1.")
		}
		p.Page = n
	}
	if v := strings.TrimSpace(c.QueryParam("per_page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return p, models.BadQuery("per_page", "per_page must be a whole number from 1 to "+strconv.Itoa(maxPerPage)+".")
		}
		p.PerPage = n
	}
	return p, nil
}
