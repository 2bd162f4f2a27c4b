package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// postDocument posts the document upload form of an assembly, with a file
// (none when name is "").
func (c *client) postDocument(id string, fields map[string]string, name string, content []byte, csrf bool) (*http.Response, string) {
	c.t.Helper()
	page := "/board/assemblies/" + id + "/documents"
	token := c.csrf("/assemblies")
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if csrf {
		_ = w.WriteField("_csrf", token)
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if name != "" {
		fw, err := w.CreateFormFile("file", name)
		if err != nil {
			c.t.Fatal(err)
		}
		_, _ = fw.Write(content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+page, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

// TestAssemblyDocumentUploadPage: the board's upload page for the §48
// documents refuses bad input with 4xx and stores nothing; a PDF reaches
// the members' assembly page and downloads as it was.
func TestAssemblyDocumentUploadPage(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	mia, anna := w.members["Mia"], w.board
	resp, _ := anna.submit("/board/assemblies/new", "/board/assemblies/new", url.Values{"title": {"Annual assembly"},
		"form": {"virtual"}, "access_details": {"https://meet.example.org/x"}, "voting_start": {moment(30 * 24 * time.Hour)}, "voting_end": {moment(31 * 24 * time.Hour)}})
	wantStatus(t, resp, http.StatusSeeOther)
	id := assemblyLocationRE.FindStringSubmatch(resp.Header.Get("Location"))[1]

	resp, body := anna.submit("/board/assemblies/"+id, "/board/assemblies/"+id+"/items", url.Values{"title": {"Accounts"}, "kind": {"bylaw_change"}, "annual": {"accounts_approval"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantContains(t, body, "Choose approval of the annual accounts or the use of the result")
	resp, _ = anna.submit("/board/assemblies/"+id, "/board/assemblies/"+id+"/items", url.Values{"title": {"Approval of the annual accounts"}, "kind": {"ordinary"}, "annual": {"accounts_approval"}})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = anna.submit("/board/assemblies/"+id, "/board/assemblies/"+id+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusConflict)
	wantContains(t, body, "needs the annual accounts among the assembly")

	resp, body = anna.get("/board/assemblies/" + id + "/documents")
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `enctype="multipart/form-data"`, "No documents yet.")

	pdf := []byte("%PDF-1.4\n% accounts 2025\n%%EOF\n")
	accounts := map[string]string{"kind": "annual_accounts", "title": "Annual accounts 2025"}
	for _, c := range []struct {
		fields  map[string]string
		name    string
		content []byte
		status  int
		text    string
	}{
		{accounts, "photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00"), http.StatusUnprocessableEntity, "Upload a PDF or a plain text file (UTF-8)."},
		{accounts, "page.html", []byte("<!doctype html><script>alert(1)</script>"), http.StatusUnprocessableEntity, "Upload a PDF or a plain text file (UTF-8)."},
		{accounts, "", nil, http.StatusUnprocessableEntity, "Choose a file"},
		{map[string]string{"kind": "balance"}, "a.pdf", pdf, http.StatusUnprocessableEntity, "Choose what the document is"},
		{accounts, "huge.txt", bytes.Repeat([]byte("x"), 10<<20), http.StatusRequestEntityTooLarge, ""},
	} {
		resp, body := anna.postDocument(id, c.fields, c.name, c.content, true)
		wantStatus(t, resp, c.status)
		if c.text != "" {
			wantContains(t, body, c.text)
		}
	}
	resp, _ = anna.postDocument(id, accounts, "a.pdf", pdf, false) // no CSRF token
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = mia.postDocument(id, accounts, "a.pdf", pdf, true) // not the board
	wantStatus(t, resp, http.StatusForbidden)
	var n int64
	if err := w.d.db.Gorm.Table("assembly_documents").Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("documents stored after refusals: %d, %v", n, err)
	}

	resp, _ = anna.postDocument(id, accounts, "accounts-2025.pdf", pdf, true)
	wantStatus(t, resp, http.StatusSeeOther)
	resp, body = mia.get("/assemblies/" + id)
	wantStatus(t, resp, http.StatusOK)
	wantContains(t, body, `id="documents"`, "Annual accounts 2025", "accounts-2025.pdf")
	var docID string
	if err := w.d.db.Gorm.Table("assembly_documents").Select("id").Scan(&docID).Error; err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, mia.base+"/assemblies/"+id+"/documents/"+docID, nil)
	dl, err := mia.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if dl.StatusCode != http.StatusOK || dl.Header.Get("Content-Type") != "application/pdf" || !bytes.Equal(got, pdf) {
		t.Errorf("download: %d %q %q", dl.StatusCode, dl.Header.Get("Content-Type"), got)
	}
	resp, _ = mia.get("/assemblies/" + id + "/documents/nope")
	wantStatus(t, resp, http.StatusNotFound)
	// The invitation goes out now; the removal is refused to members.
	resp, _ = anna.submit("/board/assemblies/"+id, "/board/assemblies/"+id+"/invite", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	resp, _ = mia.submit("/assemblies/"+id, "/board/assemblies/"+id+"/documents/"+docID+"/remove", url.Values{})
	wantStatus(t, resp, http.StatusForbidden)
}

// TestExtraordinaryNoticeRefusedWithoutObjection: the §67a button's
// action refuses a member without the right (no objection to an adopted
// bylaw change) with a message on the membership page and records nothing.
func TestExtraordinaryNoticeRefusedWithoutObjection(t *testing.T) {
	w := newGovernanceWorld(t, "Mia")
	mia := w.members["Mia"]
	resp, body := mia.get("/membership")
	wantStatus(t, resp, http.StatusOK)
	if bytes.Contains([]byte(body), []byte(`id="extraordinary-notice"`)) {
		t.Errorf("the §67a section shows without a right")
	}
	resp, _ = mia.submit("/membership", "/membership/notice/extraordinary", url.Values{"item_id": {"nope"}})
	wantStatus(t, resp, http.StatusSeeOther)
	_, body = mia.get("/membership")
	wantContains(t, body, "You have no right of extraordinary notice from this resolution")
	var n int64
	if err := w.d.db.Gorm.Table("notices").Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("notices after the refusal: %d, %v", n, err)
	}
}
