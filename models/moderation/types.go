package moderation

import (
	"time"

	"allmende/models"
)

// Case gathers the reports about one target while it is open.
type Case struct {
	ID             string     `json:"id"`
	Ref            string     `json:"ref"`
	TargetKind     string     `json:"target_kind"`
	TargetID       string     `json:"target_id"`
	TargetLabel    string     `json:"target_label"`
	SubjectID      string     `json:"subject_id"`
	VMID           *string    `gorm:"column:vm_id" json:"vm_id,omitempty"`
	Category       string     `json:"category"`
	State          string     `json:"state"` // open | closed
	Resolution     string     `json:"resolution,omitempty"`
	ResolutionNote string     `json:"resolution_note,omitempty"`
	AssigneeID     *string    `json:"assignee_id,omitempty"`
	FirstReportAt  time.Time  `json:"first_report_at"`
	FirstActionAt  *time.Time `json:"first_action_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func (Case) TableName() string { return "moderation_cases" }

// Case states and resolutions.
const (
	CaseOpen   = "open"
	CaseClosed = "closed"

	ResolutionDismissed  = "dismissed"
	ResolutionSanctioned = "sanctioned"
	ResolutionReferred   = "referred"
)

// Report is one report; its Ref is the reporter's key to its status.
type Report struct {
	ID            string     `json:"id"`
	Ref           string     `json:"ref"`
	CaseID        string     `json:"case_id"`
	Source        string     `json:"source"` // member | external
	ReporterID    *string    `json:"reporter_id,omitempty"`
	ReporterIP    string     `gorm:"column:reporter_ip" json:"-"`
	ReporterEmail string     `json:"reporter_email,omitempty"`
	Category      string     `json:"category"`
	OffendingIP   string     `gorm:"column:offending_ip" json:"offending_ip,omitempty"`
	SeenAt        *time.Time `json:"seen_at,omitempty"`
	Evidence      string     `json:"evidence"`
	CreatedAt     time.Time  `json:"created_at"`
}

func (Report) TableName() string { return "moderation_reports" }

// Report sources.
const (
	SourceMember   = "member"
	SourceExternal = "external"
)

// Note is an internal note of the panel or a line of the case log.
type Note struct {
	ID     string `json:"id"`
	CaseID string `json:"case_id"`
	Kind   string `json:"kind"` // note | log
	Author string `json:"author"`
	Body   string `json:"body"` // in English: the record
	// BodyMsg is a log line's format and arguments, for the case page to
	// show it in the reader's language; zero on rows from before.
	BodyMsg   models.Msg `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
}

func (Note) TableName() string { return "moderation_notes" }

// Note kinds.
const (
	NoteNote = "note"
	NoteLog  = "log"
)

// Sanction is one step of the ladder applied in a case.
type Sanction struct {
	ID            string     `json:"id"`
	CaseID        string     `json:"case_id"`
	SubjectID     string     `json:"-"`
	VMID          *string    `gorm:"column:vm_id" json:"vm_id,omitempty"`
	Step          int        `json:"step"`
	Kind          string     `json:"kind"`
	Reason        string     `json:"reason"`
	RuleVersionID string     `json:"rule_version_id"`
	RuleText      string     `json:"rule"`
	DiskBytesSec  int64      `json:"disk_bytes_sec,omitempty"`
	CPUPercent    int        `gorm:"column:cpu_percent" json:"cpu_percent,omitempty"`
	Emergency     bool       `json:"emergency"`
	ConfirmBy     *time.Time `json:"confirm_by,omitempty"`
	ConfirmedBy   *string    `json:"-"`
	ConfirmedAt   *time.Time `json:"confirmed_at,omitempty"`
	HeardNote     string     `json:"heard_note,omitempty"`
	State         string     `json:"state"` // active | ended | overturned | referred
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at,omitempty"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	EndReason     string     `json:"end_reason,omitempty"`
	// EndReasonMsg is EndReason's format and arguments, for the pages to
	// show it in the reader's language; zero on rows from before.
	EndReasonMsg models.Msg `json:"-"`
	CreatedBy    string     `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
}

func (Sanction) TableName() string { return "moderation_sanctions" }

// Sanction states.
const (
	SanctionActive     = "active"
	SanctionEnded      = "ended"
	SanctionOverturned = "overturned"
	SanctionReferred   = "referred" // an exclusion handed to the board
)

// Appeal is a member's appeal against one sanction.
type Appeal struct {
	ID          string     `json:"id"`
	SanctionID  string     `json:"sanction_id"`
	CaseID      string     `json:"case_id"`
	AppellantID string     `json:"-"`
	Statement   string     `json:"statement"`
	State       string     `json:"state"` // pending | upheld | reduced | overturned
	DecidedBy   *string    `json:"-"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Decision    string     `json:"decision,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func (Appeal) TableName() string { return "moderation_appeals" }

// Appeal states (outcomes but pending).
const (
	AppealPending    = "pending"
	AppealUpheld     = "upheld"
	AppealReduced    = "reduced"
	AppealOverturned = "overturned"
)
