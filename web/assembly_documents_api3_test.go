package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"allmende/models/governance"
)

// A document may be a PDF; the validating client takes its body as a file.
func init() { openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder) }

// apiUpload posts a file as the body, with the fields as query parameters.
func apiUpload(c *client, path, token, body string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.do(req)
}

// The §48 documents of an assembly through the API: the board uploads
// (a member is refused, an unknown kind or an HTML file is a field error),
// members list and read them, the board removes one while that is
// allowed. Then the assembly runs and closes, and its chair declares the
// results and signs the minutes once; a member cannot sign.
func TestAssemblyDocumentsAndMinutesAPI3(t *testing.T) {
	w := newGovernanceWorld(t, "Mia", "Tom")
	c := newClient(t, w.base)
	anna, mia := tokenFor(t, w.d, "anna@board.example"), tokenFor(t, w.d, memberEmail("Mia"))
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	resp, body := apiJSON(c, http.MethodPost, "/api/v1/assemblies", anna, `{"title":"Annual assembly","form":"virtual","access_details":"https://meet.example.org/annual","voting_start":"`+
		at(30*24*time.Hour)+`","voting_end":"`+at(32*24*time.Hour)+`"}`)
	wantStatus(t, resp, http.StatusCreated)
	a := decode[assemblyJSON](t, body)
	base := "/api/v1/assemblies/" + a.ID
	docs := base + "/documents"

	resp, _ = apiUpload(c, docs+"?kind=annual_accounts&filename=accounts.txt", mia, "Balance sheet 2026")
	wantStatus(t, resp, http.StatusForbidden)
	resp, body = apiUpload(c, docs+"?kind=annual_accounts&filename=accounts.html", anna, "<html><script>alert(1)</script></html>")
	wantFieldError(t, resp, body, "file")
	resp, body = apiUpload(c, docs+"?kind=annual_accounts&filename=accounts.txt", anna, "")
	wantFieldError(t, resp, body, "file")
	// Past the general 1 MiB body limit, to the document's own: one byte
	// too many is the domain's field error, not a cut-off body.
	resp, body = apiUpload(c, docs+"?kind=annual_accounts&filename=big.txt", anna, strings.Repeat("a", governance.MaxDocumentBytes+1))
	wantFieldError(t, resp, body, "file")
	wantContains(t, body, "too large")
	resp, _ = apiUpload(c, docs+"?kind=poem&filename=accounts.txt", anna, "Balance sheet 2026")
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if n := w.d.count(t, "assembly_documents", ""); n != 0 {
		t.Fatalf("refused uploads stored %d documents", n)
	}
	resp, body = apiUpload(c, docs+"?kind=annual_accounts&filename=accounts.txt&title=Annual+accounts+2026", anna, "Balance sheet 2026\n")
	wantStatus(t, resp, http.StatusCreated)
	doc := decode[struct {
		ID          string `json:"id"`
		ContentType string `json:"content_type"`
		Size        int    `json:"size"`
	}](t, body)
	if doc.ContentType != "text/plain; charset=utf-8" || doc.Size != 19 {
		t.Fatalf("uploaded: %s", body)
	}
	resp, body = apiUpload(c, docs+"?kind=management_report&filename=report.pdf", anna, "%PDF-1.4\n%fake but the magic is right\n")
	wantStatus(t, resp, http.StatusCreated)
	pdf := decode[struct {
		ID string `json:"id"`
	}](t, body)

	resp, body = c.api(http.MethodGet, docs, mia)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `"title":"Annual accounts 2026"`, `"kind":"management_report"`, `"uploaded_by":"Test anna@board.example"`)
	resp, body = c.api(http.MethodGet, docs+"/"+doc.ID, mia)
	wantStatus(t, resp, http.StatusOK)
	if body != "Balance sheet 2026\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("document read as %q (%s)", body, resp.Header.Get("Content-Type"))
	}
	resp, _ = c.api(http.MethodGet, docs+"/01a235c4-55b3-77ca-9175-3d3d0f56eda8", mia)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = c.api(http.MethodGet, "/api/v1/assemblies/01a235c4-55b3-77ca-9175-3d3d0f56eda8/documents", mia)
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = c.api(http.MethodDelete, docs+"/"+pdf.ID, mia)
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = c.api(http.MethodDelete, docs+"/"+pdf.ID, anna)
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = c.api(http.MethodDelete, docs+"/"+pdf.ID, anna)
	wantStatus(t, resp, http.StatusNotFound)

	// Minutes: not before the assembly is closed; then declared and signed by the chair.
	resp, _ = apiJSON(c, http.MethodPost, base+"/minutes/sign", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiJSON(c, http.MethodPost, base+"/items", anna, `{"kind":"ordinary","title":"Approve the budget"}`)
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = apiJSON(c, http.MethodPost, base+"/chair", anna, `{"chair_email":"anna@board.example","chair_location":"Berlin office"}`)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = apiJSON(c, http.MethodPost, base+"/invitations", anna, "")
	wantStatus(t, resp, http.StatusOK)
	w.shiftAssembly(t, a.ID, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	resp, _ = apiJSON(c, http.MethodPost, base+"/open", anna, "")
	wantStatus(t, resp, http.StatusOK)
	// Within the week before the assembly a document stays.
	resp, _ = c.api(http.MethodDelete, docs+"/"+doc.ID, anna)
	wantStatus(t, resp, http.StatusConflict)
	resp, _ = apiUpload(c, docs+"?kind=supervisory_report&filename=late.txt", anna, "Late report")
	wantStatus(t, resp, http.StatusConflict)
	w.shiftAssembly(t, a.ID, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Second))
	resp, _ = apiJSON(c, http.MethodPost, base+"/close", anna, "")
	wantStatus(t, resp, http.StatusOK)

	resp, _ = apiJSON(c, http.MethodPost, base+"/minutes/sign", anna, "")
	wantStatus(t, resp, http.StatusConflict) // results not declared yet
	resp, _ = apiJSON(c, http.MethodPost, base+"/declare", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, base+"/declare", anna, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, http.MethodPost, base+"/minutes/sign", mia, "")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = apiJSON(c, http.MethodPost, base+"/minutes/sign", anna, "")
	wantStatus(t, resp, http.StatusNoContent)
	resp, _ = apiJSON(c, http.MethodPost, base+"/minutes/sign", anna, "")
	wantStatus(t, resp, http.StatusConflict)
	if n := w.d.count(t, "minutes_signatures", ""); n != 1 {
		t.Errorf("signatures = %d, want 1", n)
	}
}
