package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models/governance"
	"allmende/views"
)

// ShowAssemblies lists the general assemblies.
func (h *Handler) ShowAssemblies(c echo.Context) error {
	as, err := h.Governance.Assemblies(c.Request().Context(), viewer(CurrentUser(c)))
	if err != nil {
		return err
	}
	p, err := h.page(c, "General assemblies", "assemblies")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AssembliesPage(p, as))
}

// ShowAssembly is an assembly's page: agenda, the viewer's ballots, the
// proxy, and the results once voting has closed.
func (h *Handler) ShowAssembly(c echo.Context) error {
	return h.renderAssembly(c, http.StatusOK, views.AssemblyView{})
}

// renderAssembly fills view with the assembly (and its results when
// closed) and renders the page.
func (h *Handler) renderAssembly(c echo.Context, status int, view views.AssemblyView) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	d, err := h.Governance.Assembly(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	view.D, view.SelfID = d, v.UserID
	if view.Election, err = h.Governance.Election(ctx, v, d.ID); err != nil {
		return err
	}
	if d.Status == governance.AssemblyClosed {
		if view.Results, err = h.Governance.Results(ctx, v, d.ID); err != nil {
			return err
		}
	}
	p, err := h.page(c, d.Title, "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.AssemblyPage(p, view))
}

// CastBallot records one ballot on an agenda item, for the viewer or a
// member they hold a proxy of. The receipt of a secret ballot is shown on
// this response only: it is not kept anywhere the portal could show again.
func (h *Handler) CastBallot(c echo.Context) error {
	f := formOf(c, "on_behalf_of", "choice")
	candidates := formList(c, "candidate_ids")
	f.Values["candidate_ids"] = strings.Join(candidates, "\n")
	id, item := c.Param("id"), c.Param("item")
	in := governance.BallotInput{OnBehalfOf: f.Value("on_behalf_of"), Choice: f.Value("choice"), CandidateIDs: candidates}
	_, err := h.Governance.Cast(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, item, in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		f.Errors = moveField(f.Errors, "candidates", "candidate_ids")
		right := in.OnBehalfOf
		if right == "" {
			right = CurrentUser(c).ID
		}
		return h.renderAssembly(c, status, views.AssemblyView{Ballot: views.BallotForm{ItemID: item, OnBehalfOf: right, Form: f}})
	}
	return h.flashTo(c, "success", "Your vote has been recorded.", "/assemblies/"+id+"#item-"+item)
}

// GrantProxy gives the viewer's vote in this assembly to another member.
func (h *Handler) GrantProxy(c echo.Context) error {
	f := formOf(c, "proxy_email", "declaration", "relationship")
	id := c.Param("id")
	err := h.Governance.GrantProxyTo(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id, f.Value("proxy_email"), f.Value("declaration"), f.Value("relationship"))
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		return h.renderAssembly(c, status, views.AssemblyView{Proxy: f})
	}
	return h.flashTo(c, "success", "Your proxy has been granted.", "/assemblies/"+id+"#proxy")
}

// RevokeProxy takes the viewer's proxy back.
func (h *Handler) RevokeProxy(c echo.Context) error {
	id := c.Param("id")
	if err := h.Governance.RevokeProxy(c.Request().Context(), actor(c), viewer(CurrentUser(c)), id); err != nil {
		f := views.Form{}
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok || status == http.StatusNotFound {
			return err
		}
		f.Error = errText(c.Request().Context(), err)
		return h.renderAssembly(c, status, views.AssemblyView{Proxy: f})
	}
	return h.flashTo(c, "success", "Your proxy has been revoked; you vote yourself again.", "/assemblies/"+id+"#proxy")
}

// MinutesMarkdown downloads the minutes as Markdown.
func (h *Handler) MinutesMarkdown(c echo.Context) error {
	md, err := h.Governance.Minutes(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="minutes-%s.md"`, c.Param("id")))
	return c.Blob(http.StatusOK, "text/markdown; charset=utf-8", []byte(md))
}

// ShowMinutes is the minutes as a printable page.
func (h *Handler) ShowMinutes(c echo.Context) error {
	ctx, v := c.Request().Context(), viewer(CurrentUser(c))
	d, err := h.Governance.Assembly(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	md, err := h.Governance.Minutes(ctx, v, d.ID)
	if err != nil {
		return err
	}
	p, err := h.page(c, i18n.T(ctx, "Minutes: %s", d.Title), "assemblies")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MinutesPage(p, &d.Assembly, md, d.Signatures))
}

// moveField moves a domain field message to the form's input name.
func moveField(fields map[string]string, from, to string) map[string]string {
	if msg, ok := fields[from]; ok {
		delete(fields, from)
		fields[to] = msg
	}
	return fields
}
