package handlers

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"allmende/i18n"
	"allmende/models/governance"
	"allmende/views"
)

// ShowAssemblyDocuments is the board's page of an assembly's documents
// (§48 GenG).
func (h *Handler) ShowAssemblyDocuments(c echo.Context) error {
	return h.renderAssemblyDocuments(c, http.StatusOK, views.Form{})
}

func (h *Handler) renderAssemblyDocuments(c echo.Context, status int, f views.Form) error {
	d, err := h.Governance.Assembly(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"))
	if err != nil {
		return err
	}
	p, err := h.page(c, i18n.T(c.Request().Context(), "Documents: %s", d.Title), "assemblies")
	if err != nil {
		return err
	}
	return render(c, status, views.AssemblyDocumentsPage(p, d, f))
}

// UploadAssemblyDocument stores an uploaded document. The file is read up
// to one byte over the limit, so the domain tells a too large file apart
// without the handler holding more.
func (h *Handler) UploadAssemblyDocument(c echo.Context) error {
	f := formOf(c, "kind", "title")
	in := governance.DocumentInput{Kind: f.Value("kind"), Title: f.Value("title")}
	fh, err := c.FormFile("file")
	switch {
	case errors.Is(err, http.ErrMissingFile):
		// The domain says "choose a file" for an empty upload.
	case err != nil:
		f.Errors = map[string]string{"file": "The upload could not be read; try again."}
		return h.renderAssemblyDocuments(c, http.StatusBadRequest, f)
	default:
		file, err := fh.Open()
		if err != nil {
			f.Errors = map[string]string{"file": "The upload could not be read; try again."}
			return h.renderAssemblyDocuments(c, http.StatusBadRequest, f)
		}
		in.Filename = fh.Filename
		in.Content, err = io.ReadAll(io.LimitReader(file, governance.MaxDocumentBytes+1))
		file.Close()
		if err != nil {
			f.Errors = map[string]string{"file": "The upload could not be read; try again."}
			return h.renderAssemblyDocuments(c, http.StatusBadRequest, f)
		}
	}
	doc, err := h.Governance.UploadDocument(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in)
	if err != nil {
		status, ok := formFailure(c.Request().Context(), err, &f)
		if !ok {
			return err
		}
		if status == http.StatusNotFound || status == http.StatusForbidden {
			return err
		}
		return h.renderAssemblyDocuments(c, status, f)
	}
	return h.flashTo(c, "success", i18n.T(c.Request().Context(), "“%s” is available to the members.", doc.Title), "/board/assemblies/"+c.Param("id")+"/documents")
}

// RemoveAssemblyDocument takes a document back (not within the week before).
func (h *Handler) RemoveAssemblyDocument(c echo.Context) error {
	back := "/board/assemblies/" + c.Param("id") + "/documents"
	if err := h.Governance.RemoveDocument(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("doc")); err != nil {
		return h.refused(c, err, back)
	}
	return h.flashTo(c, "success", "The document has been removed.", back)
}

// AssemblyDocument serves a document to members and the board, as a
// download of the type the portal found (never the uploader's claim).
func (h *Handler) AssemblyDocument(c echo.Context) error {
	doc, content, err := h.Governance.DocumentContent(c.Request().Context(), viewer(CurrentUser(c)), c.Param("id"), c.Param("doc"))
	if err != nil {
		return err
	}
	hd := c.Response().Header()
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": doc.Filename}))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, doc.ContentType, content)
}
