package governance

import (
	"allmende/models"
	"allmende/models/membership"
	"allmende/models/rulebook"
	"sync"
	"time"
)

// Governance is the members' self-government: the registry of rules,
// proposals to change them, general assemblies with their agenda, proxies,
// ballots and results. The rules of the GenG it follows live here.
type Governance struct {
	db     *models.DB
	queue  models.Queue
	rules  *rulebook.Rules
	clock  models.Clock
	organs *membership.Organs // seats filled by elections (WithOrgans)

	stmtMu sync.Mutex
	cast   *castStmts // prepared once, see ballot.go
}

func NewGovernance(db *models.DB, queue models.Queue, rules *rulebook.Rules, clock models.Clock) *Governance {
	return &Governance{db: db, queue: queue, rules: rules, clock: clock}
}

// WithOrgans lets the board record election results as appointments to
// the cooperative's organs.
func (g *Governance) WithOrgans(o *membership.Organs) *Governance {
	g.organs = o
	return g
}

func (g *Governance) now() time.Time { return g.clock.Now().UTC() }

// RuleInfo is one line of the rules registry: a rule and its value in force now.
type RuleInfo struct {
	Key, Title, Kind string // Kind: "parameter" | "text"
	Bylaw            bool   // a rule of the bylaws: changes wait for the register (§16(6) GenG)
	Value            string
	EffectiveFrom    time.Time
	AdoptedBy        string
	Versions         int
}

// DiffLine is one line of a line diff.
type DiffLine struct {
	Op   byte // ' ', '+', '-'
	Text string
}

// Proposal kinds.
const (
	ProposalParameters = "parameters"
	ProposalText       = "text"
	ProposalMotion     = "motion"
)

// Proposal statuses.
const (
	ProposalSubmitted = "submitted"
	ProposalOnAgenda  = "on_agenda"
	ProposalAdopted   = "adopted"
	// Adopted, but a change of the bylaws that waits for its entry in the
	// register of cooperatives (§16(6) GenG).
	ProposalAwaitingRegistration = "awaiting_registration"
	ProposalRejected             = "rejected"
)

type ProposalInput struct {
	Title, Reasoning, Kind string // Kind: "parameters" | "text" | "motion"
	RuleKey, NewText       string
	Parameters             map[string]string
	EffectiveFrom          time.Time
}

type Proposal struct {
	ID, AuthorID, AuthorName, Title, Reasoning, Kind, RuleKey, NewText string
	Parameters                                                         map[string]string
	EffectiveFrom                                                      time.Time
	Status                                                             string // submitted, on_agenda, adopted, rejected
	Supporters                                                         int
	CreatedAt                                                          time.Time
}

type Comment struct {
	ID, ProposalID, AuthorName, Text string
	CreatedAt                        time.Time
}

type ProposalDetail struct {
	Proposal
	Comments          []Comment
	SupportedByViewer bool
	SupportNeeded     int
	MustBePlaced      bool
}

// Assembly forms (§43b GenG).
const (
	FormInPerson = "in_person"
	FormVirtual  = "virtual"
	FormHybrid   = "hybrid"
	FormTwoPhase = "two_phase"
)

// Assembly statuses.
const (
	AssemblyPlanned = "planned"
	AssemblyVoting  = "voting"
	AssemblyClosed  = "closed"
)

// Agenda item kinds.
const (
	ItemOrdinary     = "ordinary"
	ItemBylawChange  = "bylaw_change"
	ItemBylawNewDuty = "bylaw_new_duty"
	ItemElection     = "election"
)

type AssemblyInput struct {
	Title, Description, Form                               string // in_person | virtual | hybrid | two_phase
	DiscussionStart, DiscussionEnd, VotingStart, VotingEnd time.Time
	// What the invitation says besides the times (§46(1), §43b GenG): the
	// place (in person, hybrid), how to take part online (virtual, hybrid,
	// two phases) and how the discussion phase runs (two phases).
	Place, AccessDetails, DiscussionForm string
	DemandID                             string // convened on a demand of members (§45(1) GenG)
}

type Assembly struct {
	ID, Title, Description, Form, Status                   string // planned, voting, closed
	DiscussionStart, DiscussionEnd, VotingStart, VotingEnd time.Time
	InvitedAt                                              *time.Time
	OpenedAt, ClosedAt                                     *time.Time
	ResultHash                                             string
	CreatedAt                                              time.Time
	Place, AccessDetails, DiscussionForm, TimeZone         string
	ChairID, ChairName, ChairLocation, DemandID            string
	SecondNoticeAt                                         *time.Time
	InvitationText                                         string // the invitation and agenda as sent
	MinutesHash                                            string
	MinutesSignedAt                                        *time.Time
}

type ItemInput struct {
	Title, Description, Kind string // ordinary | bylaw_change | bylaw_new_duty | election
	ProposalID               string
	Secret                   bool
	MajorityNum, MajorityDen int // 0 = by kind
	Quorum                   int
	Seats                    int
	Candidates               []string
	ExcludedUserIDs          []string
	Discharge                string // "" | board | supervisory_board (§43(6) GenG)
	S67a                     string // a bylaw change of a kind §67a GenG names
	Annual                   string // "" | accounts_approval | result_use (§48 GenG, documents.go)
	Organ                    string // elections: the organ whose seats it fills (candidates are emails)
}

type AgendaItem struct {
	ID, AssemblyID                          string
	Position                                int
	Title, Description, Kind, ProposalID    string
	Secret                                  bool
	MajorityNum, MajorityDen, Quorum, Seats int
	Candidates                              []Candidate
	ExcludedUserIDs                         []string
	Demanded                                bool   // added after the invitation on a demand of members
	Discharge, S67a, ElectionMethod         string // see ItemInput; election method fixed when added
	Annual                                  string // see ItemInput
	Declaration                             string // the chair's declaration of the result
	MotionID                                string // a motion of the assembly put to the vote
	Organ                                   string // elections to an organ
	AppointedAt                             *time.Time
	// Runoffs in the same assembly (runoff.go): an election whose vote
	// closed before the assembly's, with its count; the runoff's first
	// round and own voting window; the first round's runoff item.
	ClosedAt               *time.Time
	Round                  *ItemResult
	RunoffOf, RunoffItemID string
	VotingStart, VotingEnd *time.Time
}

// Candidate is a candidate of an election; in an election to an organ,
// a member's account (UserID).
type Candidate struct{ ID, Name, UserID string }

// VotingRight is one vote the viewer may cast: their own or a grantor's.
type VotingRight struct {
	OnBehalfOf, Name string          // the member voted for: self or a grantor
	Voted            map[string]bool // item id → already voted
}

type AssemblyDetail struct {
	Assembly
	Items       []AgendaItem
	Rights      []VotingRight // the viewer's own right and the proxies they hold
	ProxyGiven  *Proxy        // the viewer's own proxy
	ProxiesHeld []Proxy
	Electorate  int
	Turnout     map[string]int // item id → ballots cast; board only, live
	// Before the invitation: why it could not go out today (§46 GenG),
	// and the last days for the invitation and for items members demand.
	NoticeWarning                         models.Msg
	NoticeShortfall                       *NoticeShortfall // the same, for a page to word in its language
	SendInvitationsBy, AddDemandedItemsBy time.Time
	// The conduct of the assembly (§43b GenG) and its minutes (§47 GenG).
	IsChair       bool
	Present       bool // the viewer is recorded as present
	Contributions []Contribution
	Attendance    []Attendee
	Objections    []Objection
	Signatures    []Signature
	NoticeRights  []NoticeRight // the viewer's §67a rights from this assembly
	Documents     []Document    // §48 GenG: annual accounts, reports (documents.go)
	MustPlace     []Proposal
	Encrypted     bool // secret items take encrypted ballots (an election key)
	// The agenda has secret items and the election key is not made yet:
	// voting cannot open until the trustees have made it (electionReady).
	NeedsElectionKey bool
}

type Proxy struct {
	AssemblyID, GrantorID, GrantorName, ProxyID, ProxyName, Declaration string
	CreatedAt                                                           time.Time
	RevokedAt                                                           *time.Time
}

// Ballot choices.
const (
	ChoiceYes     = "yes"
	ChoiceNo      = "no"
	ChoiceAbstain = "abstain"
)

type BallotInput struct {
	OnBehalfOf   string   // "" = self
	Choice       string   // yes | no | abstain
	CandidateIDs []string // elections
}

// Receipt is what Cast answers for a named ballot.
type Receipt struct {
	ItemID string
}

// ItemResult is the outcome of one agenda item; it is also the item's
// entry in the published result file, hence the JSON names.
type ItemResult struct {
	ItemID string `json:"item_id"`
	Title  string `json:"title"`
	Kind   string `json:"kind"`
	Secret bool   `json:"secret"`
	// Yes and No are the votes cast (§43(2) GenG: the majority counts only
	// these); Abstain counts abstentions (elections: empty ballots); Cast
	// counts every ballot returned, abstentions included.
	Yes        int `json:"yes"`
	No         int `json:"no"`
	Abstain    int `json:"abstain"`
	Cast       int `json:"cast"`
	Electorate int `json:"electorate"` // entitled to vote on this item
	// The required share of yes among yes+no: exactly one half means "more
	// than half", any larger fraction "at least".
	MajorityNum int  `json:"majority_num"`
	MajorityDen int  `json:"majority_den"`
	Quorum      int  `json:"quorum"` // minimum yes+no
	Adopted     bool `json:"adopted"`
	// Elections: the names elected, and votes per candidate name. A tie for
	// the last seat elects none of the tied (see Tie).
	Elected        []string       `json:"elected,omitempty"`
	CandidateVotes map[string]int `json:"candidate_votes,omitempty"`
	Tie            []string       `json:"tie,omitempty"`
	// Majority elections (§43(2) GenG): the candidates of the runoff for
	// the seats nobody won with more than half of the valid votes.
	Runoff []string `json:"runoff,omitempty"`
	// A runoff held in the same assembly: the item id of its first round.
	RunoffOf string            `json:"runoff_of,omitempty"`
	Ballots  []PublishedBallot `json:"ballots"`
}

// PublishedBallot is one line of the ballot list published at close.
type PublishedBallot struct {
	Code   string `json:"code,omitempty"`  // secret items: the ballot's tracker (election record)
	Voter  string `json:"voter,omitempty"` // named ballots: the member's name (and "by proxy NAME")
	Choice string `json:"choice"`          // yes | no | abstain; elections: candidate ids, sorted, comma-separated
}

type AssemblyResults struct {
	AssemblyID string
	ClosedAt   time.Time
	Items      []ItemResult
	ResultFile []byte // canonical JSON
	ResultHash string // sha256 hex of ResultFile
}
