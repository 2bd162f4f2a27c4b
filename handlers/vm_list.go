package handlers

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/compute"
	"allmende/views"
)

// maxVMQuery bounds the search text: longer is a mistake, not a name.
const maxVMQuery = 100

// listVMs reads the list's query (?q= part of a name or an IP address,
// ?page= from 1) and loads that page of the viewer's VMs, one more than a
// page holds to know whether a next page exists. The page, the htmx
// partial and the API share it.
func (h *Handler) listVMs(c echo.Context) (views.VMList, error) {
	ctx := c.Request().Context()
	v := viewer(CurrentUser(c))
	q := strings.TrimSpace(c.QueryParam("q"))
	if len([]rune(q)) > maxVMQuery {
		return views.VMList{}, models.BadQuery("q", "The search text is too long (at most 100 characters).")
	}
	page := 1
	if s := c.QueryParam("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return views.VMList{}, models.BadQuery("page", "The page is a whole number from 1.")
		}
		page = n
	}
	vms, err := h.VMs.List(ctx, v, compute.VMFilter{Query: q, Limit: compute.VMPageSize + 1, Offset: (page - 1) * compute.VMPageSize})
	if err != nil {
		return views.VMList{}, err
	}
	l := views.VMList{Query: q, Page: page, ShowOwner: v.Admin}
	if len(vms) > compute.VMPageSize {
		l.HasNext, vms = true, vms[:compute.VMPageSize]
	}
	l.VMs = vms
	return l, nil
}
