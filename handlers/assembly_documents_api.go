package handlers

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"allmende/models"
	"allmende/models/governance"
)

// The documents of an annual assembly (§48 GenG) and the signing of the
// minutes in the API, twins of the board's documents page and of the
// assembly page's signing button.

type apiDocument struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Sha256      string    `json:"sha256"`
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
}

func toAPIDocument(d *governance.Document) apiDocument {
	return apiDocument{ID: d.ID, Kind: d.Kind, Title: d.Title, Filename: d.Filename, ContentType: d.ContentType,
		Size: d.Size, Sha256: d.Sha256, UploadedBy: d.UploadedByName, UploadedAt: d.UploadedAt.UTC()}
}

// APIAssemblyDocuments answers GET /api/v1/assemblies/{id}/documents
// (members and the board).
func (h *Handler) APIAssemblyDocuments(c echo.Context) error {
	ctx, v, id := c.Request().Context(), viewer(CurrentUser(c)), c.Param("id")
	// The assembly first: an unknown one is 404, not an empty list.
	if _, err := h.Governance.Assembly(ctx, v, id); err != nil {
		return err
	}
	docs, err := h.Governance.Documents(ctx, v, id)
	if err != nil {
		return err
	}
	out := []apiDocument{}
	for i := range docs {
		out = append(out, toAPIDocument(&docs[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"documents": out})
}

// APIUploadAssemblyDocument answers POST /api/v1/assemblies/{id}/documents
// (board): the file is the body (a PDF or UTF-8 text, whatever its
// Content-Type says: the domain looks at the bytes), kind, title and
// filename are query parameters. Read one byte over the limit, so the
// domain tells a too large file apart.
func (h *Handler) APIUploadAssemblyDocument(c echo.Context) error {
	content, err := io.ReadAll(io.LimitReader(c.Request().Body, governance.MaxDocumentBytes+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		return &models.Error{Code: http.StatusBadRequest, Safe: "the body cannot be read", Err: err}
	}
	in := governance.DocumentInput{Kind: c.QueryParam("kind"), Title: c.QueryParam("title"), Filename: c.QueryParam("filename"), Content: content}
	doc, err := h.Governance.UploadDocument(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), in)
	if err != nil {
		return err
	}
	doc.UploadedByName = CurrentUser(c).Name
	return c.JSON(http.StatusCreated, toAPIDocument(doc))
}

// APIAssemblyDocument answers GET /api/v1/assemblies/{id}/documents/{doc}
// with the file, of the type the portal found.
func (h *Handler) APIAssemblyDocument(c echo.Context) error {
	return h.AssemblyDocument(c)
}

// APIRemoveAssemblyDocument answers DELETE
// /api/v1/assemblies/{id}/documents/{doc} (board; not within the week
// before the assembly).
func (h *Handler) APIRemoveAssemblyDocument(c echo.Context) error {
	if err := h.Governance.RemoveDocument(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id"), c.Param("doc")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APISignMinutes answers POST /api/v1/assemblies/{id}/minutes/sign: the
// chair or a board member present signs the closed assembly's minutes;
// who may, the domain decides.
func (h *Handler) APISignMinutes(c echo.Context) error {
	if err := h.Governance.SignMinutes(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// APIDeclareResults answers POST /api/v1/assemblies/{id}/declare: the
// chair declares the result of every item not yet declared, from the
// published count, before signing the minutes.
func (h *Handler) APIDeclareResults(c echo.Context) error {
	if err := h.Governance.DeclareResults(c.Request().Context(), actor(c), viewer(CurrentUser(c)), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
