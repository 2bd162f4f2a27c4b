package governance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
)

// The annual assembly (§48 GenG) approves the annual accounts, decides the
// use of the result and the discharge of the board and the supervisory
// board. The annual accounts, the management report and the supervisory
// board's report are to be available to the members at least one week
// before the assembly (§48(3)); the board uploads them here (PDF or plain
// text, at most MaxDocumentBytes) and members read them on the assembly
// page. The portal refuses to invite to, or open, an assembly whose
// approval of the accounts lacks the accounts (or whose use of the result
// lacks the proposal), opens it only if they were there a week before,
// and refuses removing a document within that week.

// What an annual agenda item decides (ItemInput.Annual).
const (
	AnnualAccountsApproval = "accounts_approval"
	AnnualResultUse        = "result_use"
)

var annualItems = []string{AnnualAccountsApproval, AnnualResultUse}

// Document kinds.
const (
	DocAnnualAccounts    = "annual_accounts"
	DocManagementReport  = "management_report"
	DocResultProposal    = "result_proposal"
	DocSupervisoryReport = "supervisory_report"
)

var documentKinds = []string{DocAnnualAccounts, DocManagementReport, DocResultProposal, DocSupervisoryReport}

// DocumentKindTitle names a document kind for pages.
func DocumentKindTitle(kind string) string {
	switch kind {
	case DocAnnualAccounts:
		return "Annual accounts"
	case DocManagementReport:
		return "Management report"
	case DocResultProposal:
		return "Proposal for the use of the result"
	case DocSupervisoryReport:
		return "Report of the supervisory board"
	}
	return kind
}

// DocumentKinds lists the kinds in the order pages offer them.
func DocumentKinds() []string { return slices.Clone(documentKinds) }

// MaxDocumentBytes bounds one document (the HTTP body limit of the upload
// allows a little more for the form around it).
const MaxDocumentBytes = 8 << 20

// documentsBefore: documents are available at least this long before the
// assembly begins (§48(3) GenG: one week).
const documentsBefore = 7 * 24 * time.Hour

const (
	typePDF  = "application/pdf"
	typeText = "text/plain; charset=utf-8"
)

type documentRow struct {
	ID          string
	AssemblyID  string
	Kind        string
	Title       string
	Filename    string
	ContentType string
	Size        int64
	Sha256      string `gorm:"column:sha256"`
	Content     []byte
	UploadedBy  string
	UploadedAt  time.Time
}

func (documentRow) TableName() string { return "assembly_documents" }

// Document is an assembly document without its content.
type Document struct {
	ID, AssemblyID, Kind, Title, Filename, ContentType, Sha256 string
	Size                                                       int64
	UploadedByName                                             string
	UploadedAt                                                 time.Time
}

// DocumentInput is an upload.
type DocumentInput struct {
	Kind, Title, Filename string
	Content               []byte
}

// sniffDocument tells a PDF or UTF-8 text apart, and refuses the rest:
// members open these files, so nothing else (HTML, images, archives) gets
// in whatever its name says.
func sniffDocument(b []byte) (string, bool) {
	if bytes.HasPrefix(b, []byte("%PDF-")) {
		return typePDF, true
	}
	if utf8.Valid(b) && !bytes.ContainsRune(b, 0) && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<")) {
		return typeText, true
	}
	return "", false
}

// validate checks the input; tooLarge is the message of a file over the
// limit, kept with its number for translation.
func (in *DocumentInput) validate() (ctype string, fields map[string]string, tooLarge models.Msg) {
	fields = map[string]string{}
	if !slices.Contains(documentKinds, in.Kind) {
		fields["kind"] = "Choose what the document is: annual accounts, management report, proposal for the use of the result or report of the supervisory board."
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		in.Title = DocumentKindTitle(in.Kind)
	}
	kit.TextField(fields, "title", in.Title, "Give the document a title.", 200)
	in.Filename = path.Base(strings.ReplaceAll(strings.TrimSpace(in.Filename), `\`, "/"))
	if in.Filename == "." || in.Filename == "/" {
		in.Filename = ""
	}
	kit.TextField(fields, "file", in.Filename, "Choose a file.", 200)
	switch {
	case len(in.Content) == 0:
		fields["file"] = "Choose a file; this one is empty."
	case len(in.Content) > MaxDocumentBytes:
		tooLarge = models.Msgf("The file is too large (at most %d MiB).", MaxDocumentBytes>>20)
		fields["file"] = tooLarge.String()
	default:
		var ok bool
		if ctype, ok = sniffDocument(in.Content); !ok {
			fields["file"] = "Upload a PDF or a plain text file (UTF-8)."
		}
	}
	return ctype, fields, tooLarge
}

// UploadDocument stores a document of an assembly that has not yet begun;
// the board only.
func (g *Governance) UploadDocument(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, in DocumentInput) (*Document, error) {
	ctype, fields, tooLarge := in.validate()
	var out *Document
	err := g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can add the documents of an assembly."); err != nil {
			return err
		}
		a, err := loadAssembly(tx.Omit("result_file"), assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyPlanned || !g.now().Before(a.noticeFrom()) {
			return models.Conflict("The assembly has begun; its documents can no longer change.")
		}
		if len(fields) > 0 {
			return models.InvalidWith(fields, map[string]models.Msg{"file": tooLarge})
		}
		sum := sha256.Sum256(in.Content)
		row := documentRow{ID: kit.NewID(), AssemblyID: a.ID, Kind: in.Kind, Title: in.Title, Filename: in.Filename,
			ContentType: ctype, Size: int64(len(in.Content)), Sha256: hex.EncodeToString(sum[:]), Content: in.Content,
			UploadedBy: actor.UserID, UploadedAt: g.now()}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("insert document: %w", err)
		}
		out = &Document{ID: row.ID, AssemblyID: row.AssemblyID, Kind: row.Kind, Title: row.Title, Filename: row.Filename,
			ContentType: row.ContentType, Sha256: row.Sha256, Size: row.Size, UploadedAt: row.UploadedAt}
		return kit.RecordAudit(tx, actor, "assembly.document_upload", "assembly", a.ID,
			map[string]any{"document_id": row.ID, "kind": row.Kind, "filename": row.Filename, "size": row.Size, "sha256": row.Sha256})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RemoveDocument takes a document back, the board only, and never within
// the week before the assembly: members must find there what they read.
func (g *Governance) RemoveDocument(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, documentID string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board can remove the documents of an assembly."); err != nil {
			return err
		}
		a, err := loadAssembly(tx.Omit("result_file"), assemblyID, true)
		if err != nil {
			return err
		}
		var d documentRow
		err = tx.Omit("content").Where("id = ? AND assembly_id = ?", documentID, a.ID).First(&d).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return models.NotFoundError("document")
		}
		if err != nil {
			return fmt.Errorf("load document: %w", err)
		}
		if a.Status != AssemblyPlanned || !g.now().Before(a.noticeFrom().Add(-documentsBefore)) {
			return models.Conflict("The documents stay available from one week before the assembly (§48(3) GenG); this one can no longer be removed. Upload a correction beside it instead.")
		}
		if err := tx.Delete(&documentRow{}, "id = ?", d.ID).Error; err != nil {
			return fmt.Errorf("delete document: %w", err)
		}
		return kit.RecordAudit(tx, actor, "assembly.document_remove", "assembly", a.ID,
			map[string]any{"document_id": d.ID, "kind": d.Kind, "filename": d.Filename, "sha256": d.Sha256})
	})
}

// Documents lists an assembly's documents (without content) to members and the board.
func (g *Governance) Documents(ctx context.Context, v models.Viewer, assemblyID string) ([]Document, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	return loadDocuments(db, assemblyID)
}

func loadDocuments(tx *gorm.DB, assemblyID string) ([]Document, error) {
	var out []Document
	if err := tx.Raw(`SELECT d.id, d.assembly_id, d.kind, d.title, d.filename, d.content_type, d.sha256, d.size, u.name AS uploaded_by_name, d.uploaded_at
		FROM assembly_documents d JOIN users u ON u.id = d.uploaded_by WHERE d.assembly_id = ? ORDER BY d.uploaded_at, d.id`, assemblyID).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("load documents of %s: %w", assemblyID, err)
	}
	for i := range out {
		out[i].UploadedAt = out[i].UploadedAt.UTC()
	}
	return out, nil
}

// DocumentContent returns a document with its content, to members and the board.
func (g *Governance) DocumentContent(ctx context.Context, v models.Viewer, assemblyID, documentID string) (*Document, []byte, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, nil, err
	}
	var r documentRow
	err := db.Where("id = ? AND assembly_id = ?", documentID, assemblyID).First(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, models.NotFoundError("document")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load document: %w", err)
	}
	return &Document{ID: r.ID, AssemblyID: r.AssemblyID, Kind: r.Kind, Title: r.Title, Filename: r.Filename,
		ContentType: r.ContentType, Sha256: r.Sha256, Size: r.Size, UploadedAt: r.UploadedAt.UTC()}, r.Content, nil
}

// annualDocumentsProblem refuses an annual item that lacks its document;
// with by set, a document must have been there by then (§48(3) GenG: the
// week before). A nil refusal means nothing is missing.
func annualDocumentsProblem(tx *gorm.DB, assemblyID string, items []AgendaItem, by time.Time) (*models.Error, error) {
	need := map[string]string{}
	for _, it := range items {
		switch it.Annual {
		case AnnualAccountsApproval:
			need[DocAnnualAccounts] = it.Title
		case AnnualResultUse:
			need[DocResultProposal] = it.Title
		}
	}
	for _, kind := range documentKinds {
		title, ok := need[kind]
		if !ok {
			continue
		}
		q := tx.Model(&documentRow{}).Where("assembly_id = ? AND kind = ?", assemblyID, kind)
		if !by.IsZero() {
			q = q.Where("uploaded_at <= ?", by)
		}
		var n int64
		if err := q.Count(&n).Error; err != nil {
			return nil, fmt.Errorf("count documents: %w", err)
		}
		if n > 0 {
			continue
		}
		// One message per kind, so that the kind is translated with it.
		day := models.Moment(by)
		switch {
		case kind == DocResultProposal && by.IsZero():
			return models.Conflictf("The item “%s” needs the proposal for the use of the result among the assembly's documents (§48 GenG); upload it first.", title), nil
		case by.IsZero():
			return models.Conflictf("The item “%s” needs the annual accounts among the assembly's documents (§48 GenG); upload it first.", title), nil
		case kind == DocResultProposal:
			return models.Conflictf("The proposal for the use of the result for the item “%s” was not available to the members one week before the assembly (by %s; §48(3) GenG).", title, day), nil
		default:
			return models.Conflictf("The annual accounts for the item “%s” were not available to the members one week before the assembly (by %s; §48(3) GenG).", title, day), nil
		}
	}
	return nil, nil
}
