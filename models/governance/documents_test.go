package governance_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/governance"
	"allmende/models/modelstest"
)

var pdf = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

// TestAnnualAssemblyDocumentsAvailableAWeekBefore: an annual assembly's
// approval of the accounts needs the annual accounts among its documents
// before the invitation, and they must have been there a week before it
// begins for voting to open (§48(3) GenG); documents cannot be removed
// within that week; only PDF or text, by the board.
func TestAnnualAssemblyDocumentsAvailableAWeekBefore(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newGEnv(t, db)
		ms := e.members(t, "m", 2)
		start := e.Clock.Now().AddDate(0, 0, 30)
		annual := func(title string) *governance.Assembly {
			a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: title, Form: governance.FormVirtual,
				AccessDetails: "https://meet.example.org/ga", VotingStart: start, VotingEnd: start.Add(7 * 24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range []governance.ItemInput{
				{Title: "Approval of the annual accounts 2025", Kind: governance.ItemOrdinary, Annual: governance.AnnualAccountsApproval},
				{Title: "Discharge of the board", Kind: governance.ItemOrdinary, Discharge: governance.DischargeBoard},
			} {
				if _, err := e.g.AddItem(ctx, e.Board1, e.board, a.ID, in); err != nil {
					t.Fatal(err)
				}
			}
			return a
		}
		a, late := annual("Annual assembly 2026"), annual("Annual assembly, documents late")
		modelstest.WantCode(t, errOf(e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "x", Kind: governance.ItemBylawChange, Annual: governance.AnnualAccountsApproval})), http.StatusUnprocessableEntity)
		modelstest.WantCode(t, errOf(e.g.AddItem(ctx, e.Board1, e.board, a.ID, governance.ItemInput{Title: "x", Kind: governance.ItemOrdinary, Annual: "bonus"})), http.StatusUnprocessableEntity)

		// No accounts, no invitation.
		modelstest.WantCode(t, e.g.SendInvitations(ctx, e.Board1, e.board, a.ID), http.StatusConflict)

		// Uploads: the board only, PDF or text only, nothing stored on refusal.
		modelstest.WantCode(t, errOf(e.g.UploadDocument(ctx, ms[0], viewer(ms[0]), a.ID, governance.DocumentInput{Kind: governance.DocAnnualAccounts, Filename: "a.pdf", Content: pdf})), http.StatusForbidden)
		for _, in := range []governance.DocumentInput{
			{Kind: governance.DocAnnualAccounts, Filename: "a.png", Content: []byte("\x89PNG\r\n\x1a\n\x00\x00")},
			{Kind: governance.DocAnnualAccounts, Filename: "a.html", Content: []byte("<html><script>alert(1)</script>")},
			{Kind: governance.DocAnnualAccounts, Filename: "a.pdf"},
			{Kind: "balance_sheet", Filename: "a.pdf", Content: pdf},
			{Kind: governance.DocAnnualAccounts, Filename: "big.txt", Content: bytes.Repeat([]byte("x"), governance.MaxDocumentBytes+1)},
		} {
			modelstest.WantCode(t, errOf(e.g.UploadDocument(ctx, e.Board1, e.board, a.ID, in)), http.StatusUnprocessableEntity)
		}
		var n int64
		if err := db.Gorm.Table("assembly_documents").Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("documents after refusals: %d, %v", n, err)
		}
		doc, err := e.g.UploadDocument(ctx, e.Board1, e.board, a.ID, governance.DocumentInput{Kind: governance.DocAnnualAccounts, Filename: `C:\fakepath\accounts-2025.pdf`, Content: pdf})
		if err != nil {
			t.Fatal(err)
		}
		report, err := e.g.UploadDocument(ctx, e.Board1, e.board, a.ID, governance.DocumentInput{Kind: governance.DocSupervisoryReport, Title: "Report 2025", Filename: "report.txt", Content: []byte("The supervisory board examined the accounts.\n")})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Filename != "accounts-2025.pdf" || doc.ContentType != "application/pdf" || report.ContentType != "text/plain; charset=utf-8" {
			t.Errorf("documents %+v %+v", doc, report)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		// Members read them on the assembly page.
		d, err := e.g.Assembly(ctx, viewer(ms[1]), a.ID)
		if err != nil || len(d.Documents) != 2 {
			t.Fatalf("documents on the page: %+v, %v", d, err)
		}
		if _, content, err := e.g.DocumentContent(ctx, viewer(ms[1]), a.ID, doc.ID); err != nil || !bytes.Equal(content, pdf) {
			t.Errorf("download: %q, %v", content, err)
		}
		_, _, err = e.g.DocumentContent(ctx, viewer(ms[1]), late.ID, doc.ID)
		modelstest.WantCode(t, err, http.StatusNotFound)
		// Before the week a document can be taken back.
		if err := e.g.RemoveDocument(ctx, e.Board1, e.board, a.ID, report.ID); err != nil {
			t.Fatal(err)
		}

		// The late assembly gets its accounts, invites, takes them back
		// and puts them up again within the week.
		lateDoc, err := e.g.UploadDocument(ctx, e.Board1, e.board, late.ID, governance.DocumentInput{Kind: governance.DocAnnualAccounts, Filename: "accounts.txt", Content: []byte("Balance sheet 2025")})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.g.SendInvitations(ctx, e.Board1, e.board, late.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.g.RemoveDocument(ctx, e.Board1, e.board, late.ID, lateDoc.ID); err != nil {
			t.Fatal(err)
		}

		// Within the week: no removals; a late upload does not count.
		e.Clock.Set(start.AddDate(0, 0, -6))
		modelstest.WantCode(t, e.g.RemoveDocument(ctx, e.Board1, e.board, a.ID, doc.ID), http.StatusConflict)
		modelstest.WantCode(t, e.g.RemoveDocument(ctx, ms[0], viewer(ms[0]), a.ID, doc.ID), http.StatusForbidden)
		if _, err := e.g.UploadDocument(ctx, e.Board1, e.board, late.ID, governance.DocumentInput{Kind: governance.DocAnnualAccounts, Filename: "accounts.pdf", Content: pdf}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(start)
		modelstest.WantCode(t, e.g.OpenVoting(ctx, e.Board1, e.board, late.ID), http.StatusConflict)
		if err := e.g.OpenVoting(ctx, e.Board1, e.board, a.ID); err != nil {
			t.Fatal(err)
		}
		// Once begun, the documents stand.
		modelstest.WantCode(t, errOf(e.g.UploadDocument(ctx, e.Board1, e.board, a.ID, governance.DocumentInput{Kind: governance.DocManagementReport, Filename: "m.pdf", Content: pdf})), http.StatusConflict)
		if d, _ := e.g.Assembly(ctx, viewer(ms[0]), a.ID); len(d.Documents) != 1 || d.Documents[0].ID != doc.ID {
			t.Errorf("documents after opening: %+v", d.Documents)
		}
	})
}

// BenchmarkDocumentUploadDownload stores and reads back a document of the
// largest size allowed, on SQLite.
func BenchmarkDocumentUploadDownload(b *testing.B) {
	db := modelstest.OpenSQLite(b)
	e := newGEnv(b, db)
	ctx := context.Background()
	start := e.Clock.Now().AddDate(0, 0, 30)
	a, err := e.g.CreateAssembly(ctx, e.Board1, e.board, governance.AssemblyInput{Title: "Annual", Form: governance.FormVirtual,
		AccessDetails: "https://meet.example.org/ga", VotingStart: start, VotingEnd: start.Add(7 * 24 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	content := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xA7}, governance.MaxDocumentBytes-9)...)
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		d, err := e.g.UploadDocument(ctx, e.Board1, e.board, a.ID, governance.DocumentInput{Kind: governance.DocAnnualAccounts, Filename: "a.pdf", Content: content})
		if err != nil {
			b.Fatal(err)
		}
		if _, got, err := e.g.DocumentContent(ctx, e.board, a.ID, d.ID); err != nil || len(got) != len(content) {
			b.Fatal(len(got), err)
		}
	}
}
