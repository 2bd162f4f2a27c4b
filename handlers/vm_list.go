package handlers

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// maxVMQuery bounds the search text: longer is a mistake, not a name.
const maxVMQuery = 100

// listVMs reads the list's query (?q= part of a name or an IP address,
// ?page= from 1) and loads that page of the viewer's VMs with their count.
// The page, the htmx partial and the API share it.
func (h *Handler) listVMs(c echo.Context) (views.VMList, error) {
	ctx := c.Request().Context()
	v := viewer(CurrentUser(c))
	q := strings.TrimSpace(c.QueryParam("q"))
	if len([]rune(q)) > maxVMQuery {
		return views.VMList{}, models.BadQuery("q", "The search text is too long (at most 100 characters).")
	}
	pg, err := pageParams(c, compute.VMPageSize, compute.VMPageSize)
	if err != nil {
		return views.VMList{}, err
	}
	f := compute.VMFilter{Query: q}
	total, err := h.VMs.Count(ctx, v, f)
	if err != nil {
		return views.VMList{}, err
	}
	f.Limit, f.Offset = pg.PerPage, pg.Offset()
	vms, err := h.VMs.List(ctx, v, f)
	if err != nil {
		return views.VMList{}, err
	}
	return views.VMList{VMs: vms, Query: q, ShowOwner: v.Admin,
		Paging: pg.View("/vms", url.Values{"q": {q}}, total)}, nil
}
