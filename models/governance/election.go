package governance

import (
	"allmende/election"
	"allmende/models"
	"allmende/models/account"
	"allmende/models/internal/kit"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// Verifiable secret ballots (docs/ballots.md). The board names trustees for
// an assembly; in a key ceremony run by their browsers they make an election
// key of which no one, the server neither, holds the secret; voters'
// browsers encrypt and prove their ballots; after the vote k trustees
// decrypt the sum. This file is the ceremony; election_cast.go the ballots;
// election_tally.go the decryption, the result and the published record.

// AssemblyCounting: voting has ended and the trustees decrypt the tally of
// the encrypted items; then the board closes the assembly as usual.
const AssemblyCounting = "counting"

// maxTrustees bounds the ceremony (each trustee sends a share to each).
const maxTrustees = 15

type electionRow struct {
	AssemblyID string
	Threshold  int
	Revote     bool
	PublicKey  string
}

func (electionRow) TableName() string { return "elections" }

type trusteeRow struct {
	AssemblyID      string
	Idx             int `gorm:"column:idx"`
	UserID          string
	Name            string
	TransportKey    string
	Commitments     string
	Proof           string
	Dealt           bool
	VerificationKey string
}

func (trusteeRow) TableName() string { return "election_trustees" }

// ElectionInput is the board's choice of trustees for an assembly.
type ElectionInput struct {
	TrusteeEmails []string // in order: trustee 1, 2, …
	Threshold     int      // k: how many must decrypt together
	Revote        bool     // a later ballot replaces the earlier one
}

// Ceremony phases.
const (
	PhaseRegister = "register" // trustees publish transport keys and commitments
	PhaseDeal     = "deal"     // trustees send each other encrypted shares
	PhaseConfirm  = "confirm"  // trustees check their shares and confirm their keys
	PhaseReady    = "ready"    // the election key is fixed
)

// TrusteeView is a trustee as everyone may see them.
type TrusteeView struct {
	Index        int             `json:"index"`
	Name         string          `json:"name"`
	UserID       string          `json:"-"`
	TransportKey string          `json:"transport_key,omitempty"`
	Commitments  []string        `json:"commitments,omitempty"`
	Proof        json.RawMessage `json:"proof,omitempty"`
	Registered   bool            `json:"registered"`
	Dealt        bool            `json:"dealt"`
	Confirmed    bool            `json:"confirmed"`
}

// ElectionItem is a secret item of the election with its ballot shape and,
// while counting, its tally.
type ElectionItem struct {
	ID          string                `json:"id"`
	Title       string                `json:"title"`
	Options     []string              `json:"options"`
	Min         int                   `json:"min"`
	Max         int                   `json:"max"`
	Ballots     int                   `json:"ballots"`
	Tally       []election.Ciphertext `json:"tally,omitempty"`
	DecryptedBy []int                 `json:"decrypted_by"`
}

// ElectionView is the public state of an assembly's election, and what a
// trustee's browser needs for its next step.
type ElectionView struct {
	AssemblyID     string                    `json:"assembly_id"`
	AssemblyTitle  string                    `json:"assembly_title"`
	AssemblyStatus string                    `json:"assembly_status"`
	Threshold      int                       `json:"threshold"`
	Revote         bool                      `json:"revote"`
	PublicKey      string                    `json:"public_key,omitempty"`
	Phase          string                    `json:"phase"`
	Trustees       []TrusteeView             `json:"trustees"`
	Me             int                       `json:"me"`                     // the viewer's trustee index, 0 if none
	SharesToMe     []election.EncryptedShare `json:"shares_to_me,omitempty"` // in the confirm phase
	Items          []ElectionItem            `json:"items"`
	Board          bool                      `json:"-"`
}

// SetUpElection names the trustees of an assembly, or names them anew
// (which starts the key ceremony over), while the assembly is planned.
func (g *Governance) SetUpElection(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, in ElectionInput) error {
	var emails []string
	for _, e := range in.TrusteeEmails {
		if e = account.NormalizeEmail(e); e != "" && !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	switch n := len(emails); {
	case n == 0:
		return models.Invalid(map[string]string{"trustees": "Name at least one trustee (better three or more)."})
	case n > maxTrustees:
		return models.Invalidf("trustees", "At most %d trustees.", maxTrustees)
	case in.Threshold < 1 || in.Threshold > n:
		return models.Invalidf("threshold", "Between 1 and %d (the number of trustees).", n)
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := requireRole(tx, v, account.RoleBoard, "Only the board names the trustees."); err != nil {
			return err
		}
		a, err := loadAssembly(tx, assemblyID, true)
		if err != nil {
			return err
		}
		if a.Status != AssemblyPlanned {
			return models.Conflict("Voting has opened; the trustees can no longer change.")
		}
		var users []account.User
		if err := tx.Where("email IN ?", emails).Find(&users).Error; err != nil {
			return fmt.Errorf("find trustees: %w", err)
		}
		for _, e := range emails {
			if !slices.ContainsFunc(users, func(u account.User) bool { return u.Email == e }) {
				return models.Invalid(map[string]string{"trustees": "No account has the email address " + e + "."})
			}
		}
		for _, t := range []string{"election_shares", "election_trustees", "elections"} {
			if err := tx.Exec("DELETE FROM "+t+" WHERE assembly_id = ?", a.ID).Error; err != nil {
				return fmt.Errorf("reset election: %w", err)
			}
		}
		if err := tx.Create(&electionRow{AssemblyID: a.ID, Threshold: in.Threshold, Revote: in.Revote}).Error; err != nil {
			return fmt.Errorf("create election: %w", err)
		}
		var names []string
		for i, e := range emails {
			u := users[slices.IndexFunc(users, func(u account.User) bool { return u.Email == e })]
			if err := tx.Create(&trusteeRow{AssemblyID: a.ID, Idx: i + 1, UserID: u.ID, Name: u.Name}).Error; err != nil {
				return fmt.Errorf("add trustee: %w", err)
			}
			names = append(names, u.Name)
		}
		return kit.RecordAudit(tx, actor, "election.setup", "assembly", a.ID,
			map[string]any{"trustees": names, "threshold": in.Threshold, "revote": in.Revote})
	})
}

func loadElection(tx *gorm.DB, assemblyID string) (*electionRow, []trusteeRow, error) {
	var e electionRow
	if err := tx.Where("assembly_id = ?", assemblyID).Limit(1).Find(&e).Error; err != nil {
		return nil, nil, fmt.Errorf("load election: %w", err)
	}
	if e.AssemblyID == "" {
		return nil, nil, nil
	}
	var ts []trusteeRow
	if err := tx.Where("assembly_id = ?", assemblyID).Order("idx").Find(&ts).Error; err != nil {
		return nil, nil, fmt.Errorf("load trustees: %w", err)
	}
	return &e, ts, nil
}

func phaseOf(ts []trusteeRow) string {
	switch {
	case slices.ContainsFunc(ts, func(t trusteeRow) bool { return t.Commitments == "" }):
		return PhaseRegister
	case slices.ContainsFunc(ts, func(t trusteeRow) bool { return !t.Dealt }):
		return PhaseDeal
	case slices.ContainsFunc(ts, func(t trusteeRow) bool { return t.VerificationKey == "" }):
		return PhaseConfirm
	}
	return PhaseReady
}

// publicTrustees decodes the published commitments (all registered).
func publicTrustees(ts []trusteeRow) ([]election.TrusteePublic, error) {
	out := make([]election.TrusteePublic, len(ts))
	for i, t := range ts {
		out[i] = election.TrusteePublic{Index: t.Idx, Name: t.Name}
		if err := json.Unmarshal([]byte(t.Commitments), &out[i].Commitments); err != nil {
			return nil, fmt.Errorf("trustee %d commitments: %w", t.Idx, err)
		}
		if err := json.Unmarshal([]byte(t.Proof), &out[i].Proof); err != nil {
			return nil, fmt.Errorf("trustee %d proof: %w", t.Idx, err)
		}
	}
	return out, nil
}

// questionOf is the ballot shape of a secret item: yes, no, abstain (one
// of them); or the candidates in their order and abstain (one to Seats
// candidates, or abstain).
func questionOf(it AgendaItem) (election.Question, []string) {
	if it.Kind != ItemElection {
		return election.Question{Options: 3, Min: 1, Max: 1}, []string{ChoiceYes, ChoiceNo, ChoiceAbstain}
	}
	var labels []string
	for _, c := range it.Candidates {
		labels = append(labels, c.Name)
	}
	labels = append(labels, ChoiceAbstain)
	seats := min(max(it.Seats, 1), len(it.Candidates))
	return election.Question{Options: len(labels), Min: 1, Max: max(seats, 1)}, labels
}

// Election shows an assembly's election: to everyone its trustees, their
// public values and the items; to a trustee also the shares sent to them.
func (g *Governance) Election(ctx context.Context, v models.Viewer, assemblyID string) (*ElectionView, error) {
	db := g.db.Gorm.WithContext(ctx)
	if err := requireMemberOrBoard(db, v); err != nil {
		return nil, err
	}
	a, err := loadAssembly(db.Omit("result_file"), assemblyID, false)
	if err != nil {
		return nil, err
	}
	board, err := account.UserHasRole(db, v.UserID, account.RoleBoard)
	if err != nil {
		return nil, err
	}
	e, ts, err := loadElection(db, a.ID)
	if err != nil {
		return nil, err
	}
	view := &ElectionView{AssemblyID: a.ID, AssemblyTitle: a.Title, AssemblyStatus: a.Status, Board: board, Trustees: []TrusteeView{}, Items: []ElectionItem{}}
	if e == nil {
		return view, nil
	}
	view.Threshold, view.Revote, view.PublicKey, view.Phase = e.Threshold, e.Revote, e.PublicKey, phaseOf(ts)
	for _, t := range ts {
		tv := TrusteeView{Index: t.Idx, Name: t.Name, UserID: t.UserID, TransportKey: t.TransportKey, Registered: t.Commitments != "",
			Dealt: t.Dealt, Confirmed: t.VerificationKey != ""}
		if t.Commitments != "" {
			_ = json.Unmarshal([]byte(t.Commitments), &tv.Commitments)
			tv.Proof = json.RawMessage(t.Proof)
		}
		if t.UserID == v.UserID {
			view.Me = t.Idx
		}
		view.Trustees = append(view.Trustees, tv)
	}
	if view.Me != 0 && view.Phase == PhaseConfirm {
		var rows []struct{ Share string }
		if err := db.Raw(`SELECT share FROM election_shares WHERE assembly_id = ? AND to_idx = ? ORDER BY from_idx`, a.ID, view.Me).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("load shares: %w", err)
		}
		for _, r := range rows {
			var s election.EncryptedShare
			if err := json.Unmarshal([]byte(r.Share), &s); err != nil {
				return nil, fmt.Errorf("decode share: %w", err)
			}
			view.SharesToMe = append(view.SharesToMe, s)
		}
	}
	items, err := loadItems(db, a.ID)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if !it.Secret {
			continue
		}
		q, labels := questionOf(it)
		ei := ElectionItem{ID: it.ID, Title: it.Title, Options: labels, Min: q.Min, Max: q.Max, DecryptedBy: []int{}}
		if a.Status == AssemblyCounting || a.Status == AssemblyClosed {
			ballots, err := loadEncryptedBallots(db, it.ID, false)
			if err != nil {
				return nil, err
			}
			ei.Ballots = len(ballots)
			ei.Tally = election.Tally(q.Options, recordedBallots(ballots))
			if err := db.Raw(`SELECT trustee_idx FROM election_decryptions WHERE item_id = ? ORDER BY trustee_idx`, it.ID).Scan(&ei.DecryptedBy).Error; err != nil {
				return nil, fmt.Errorf("load decryptions: %w", err)
			}
		}
		view.Items = append(view.Items, ei)
	}
	return view, nil
}

// trusteeStep loads what each step of the ceremony checks: the assembly
// planned, the viewer one of its trustees, and the phase.
func trusteeStep(tx *gorm.DB, v models.Viewer, assemblyID, phase string) (*electionRow, []trusteeRow, *trusteeRow, error) {
	a, err := loadAssembly(tx, assemblyID, true)
	if err != nil {
		return nil, nil, nil, err
	}
	e, ts, err := loadElection(tx, a.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	var me *trusteeRow
	for i := range ts {
		if ts[i].UserID == v.UserID {
			me = &ts[i]
		}
	}
	switch {
	case e == nil || me == nil:
		return nil, nil, nil, models.Forbidden("You are not a trustee of this assembly.")
	case a.Status != AssemblyPlanned:
		return nil, nil, nil, models.Conflict("The key ceremony is over: voting has opened.")
	case phaseOf(ts) != phase:
		return nil, nil, nil, models.Conflict("The key ceremony is in another step (" + phaseOf(ts) + "); reload the page.")
	}
	return e, ts, me, nil
}

// TrusteeRegistration is a trustee's first step: the public half of their
// transport key and of their polynomial, with the proof of its constant.
type TrusteeRegistration struct {
	TransportKey string            `json:"transport_key"`
	Commitments  []*election.Point `json:"commitments"`
	Proof        election.Proof    `json:"proof"`
}

// RegisterTrustee records a trustee's commitments after checking them.
func (g *Governance) RegisterTrustee(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, in TrusteeRegistration) error {
	if _, err := election.ParsePoint(in.TransportKey); err != nil {
		return models.Invalid(map[string]string{"transport_key": "Not a public key: " + err.Error()})
	}
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		e, ts, me, err := trusteeStep(tx, v, assemblyID, PhaseRegister)
		if err != nil {
			return err
		}
		if me.Commitments != "" {
			return models.Conflict("You have registered your key already.")
		}
		pub := election.TrusteePublic{Index: me.Idx, Commitments: in.Commitments, Proof: in.Proof}
		if err := election.CheckTrustee(election.ElectionContext(assemblyID, e.Threshold, len(ts)), e.Threshold, pub); err != nil {
			return models.Invalid(map[string]string{"commitments": "The commitments do not check out: " + err.Error()})
		}
		comms, _ := json.Marshal(in.Commitments)
		proof, _ := json.Marshal(in.Proof)
		if err := tx.Model(&trusteeRow{}).Where("assembly_id = ? AND idx = ?", assemblyID, me.Idx).
			Updates(map[string]any{"transport_key": in.TransportKey, "commitments": string(comms), "proof": string(proof)}).Error; err != nil {
			return fmt.Errorf("register trustee: %w", err)
		}
		return kit.RecordAudit(tx, actor, "election.register", "assembly", assemblyID, map[string]any{"trustee": me.Idx})
	})
}

// DealShares stores a trustee's shares for every trustee (themselves
// included), each encrypted to its recipient's transport key.
func (g *Governance) DealShares(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID string, shares []election.EncryptedShare) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		_, ts, me, err := trusteeStep(tx, v, assemblyID, PhaseDeal)
		if err != nil {
			return err
		}
		if me.Dealt {
			return models.Conflict("You have sent your shares already.")
		}
		to := map[int]bool{}
		for _, s := range shares {
			if s.From != me.Idx || s.To < 1 || s.To > len(ts) || to[s.To] || s.E == nil || len(s.X) != 64 || strings.Trim(s.X, "0123456789abcdef") != "" {
				return models.Invalid(map[string]string{"shares": "One encrypted share for each trustee, from you."})
			}
			to[s.To] = true
		}
		if len(to) != len(ts) {
			return models.Invalidf("shares", "%d shares for %d trustees.", len(to), len(ts))
		}
		for _, s := range shares {
			b, _ := json.Marshal(s)
			if err := tx.Exec(`INSERT INTO election_shares (assembly_id, from_idx, to_idx, share) VALUES (?, ?, ?, ?)`,
				assemblyID, s.From, s.To, string(b)).Error; err != nil {
				return fmt.Errorf("store share: %w", err)
			}
		}
		if err := tx.Model(&trusteeRow{}).Where("assembly_id = ? AND idx = ?", assemblyID, me.Idx).Update("dealt", true).Error; err != nil {
			return fmt.Errorf("mark dealt: %w", err)
		}
		return kit.RecordAudit(tx, actor, "election.deal", "assembly", assemblyID, map[string]any{"trustee": me.Idx})
	})
}

// ConfirmTrustee records that a trustee checked every share sent to them
// and holds the key whose public half is vk, which must be what everyone
// computes from the commitments. The last confirmation fixes the election
// key.
func (g *Governance) ConfirmTrustee(ctx context.Context, actor models.Actor, v models.Viewer, assemblyID, vk string) error {
	return g.db.Tx(ctx, func(tx *gorm.DB) error {
		_, ts, me, err := trusteeStep(tx, v, assemblyID, PhaseConfirm)
		if err != nil {
			return err
		}
		if me.VerificationKey != "" {
			return models.Conflict("You have confirmed your key already.")
		}
		pubs, err := publicTrustees(ts)
		if err != nil {
			return err
		}
		if want := election.VerificationKey(pubs, me.Idx).String(); vk != want {
			return models.Invalid(map[string]string{"verification_key": "Your key does not match the trustees' commitments: a share may be wrong. Tell the board, which starts the ceremony over."})
		}
		if err := tx.Model(&trusteeRow{}).Where("assembly_id = ? AND idx = ?", assemblyID, me.Idx).Update("verification_key", vk).Error; err != nil {
			return fmt.Errorf("confirm trustee: %w", err)
		}
		me.VerificationKey = vk
		detail := map[string]any{"trustee": me.Idx}
		if phaseOf(ts) == PhaseReady {
			y := election.PublicKey(pubs).String()
			if err := tx.Model(&electionRow{}).Where("assembly_id = ?", assemblyID).Update("public_key", y).Error; err != nil {
				return fmt.Errorf("fix election key: %w", err)
			}
			detail["public_key"] = y
		}
		return kit.RecordAudit(tx, actor, "election.confirm", "assembly", assemblyID, detail)
	})
}
