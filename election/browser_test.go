package election

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBrowserTwin runs static/ballot.js (the browser's code) under node and
// checks it against this package both ways: ballots, trackers, the
// trustee's commitments and proof, share transport and partial decryptions
// made in JavaScript verify here, and a Go ballot verifies there. A hash or
// encoding that drifts apart fails here, not in an assembly.
func TestBrowserTwin(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	ts, y, err := SimulateCeremony("asm", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	q := Question{Options: 3, Min: 1, Max: 1}
	ctx := ItemContext("asm", "item", y, q)
	goBallot, _, err := EncryptBallot(ctx, y, q, []int{0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	tally := Tally(3, []Ballot{goBallot})
	z := RandomScalar()
	poly := NewPolynomial(2)
	goShare := EncryptShare(ElectionContext("asm", 2, 3), 1, 2, mulBase(z), poly.At(2))
	in, _ := json.Marshal(map[string]any{"y": y, "ballot": goBallot, "tally": tally, "x": ts[0].Share, "z": z, "share": goShare, "zpub": mulBase(z)})

	lib, _ := filepath.Abs("../static/ballot.js")
	script := `
import * as B from ` + strconvQuote("file://"+lib) + `;
const inp = JSON.parse(process.argv[1]);
const y = B.point(inp.y);
const q = {options: 3, min: 1, max: 1};
const ctx = B.itemContext('asm', 'item', y, q);
const {ballot, randomness} = B.encryptBallot(ctx, y, q, [1, 0, 0]);
const eq = {options: 4, min: 1, max: 2};
const ectxItem = B.itemContext('asm', 'el', y, eq);
const el = B.encryptBallot(ectxItem, y, eq, [1, 0, 1, 0]).ballot;
const ectx = B.electionContext('asm', 2, 3);
const poly = B.newPolynomial(2);
const out = {
  ballot, tracker: B.tracker(ctx, ballot), opened: B.openBallot(y, ballot, randomness),
  election: el,
  goBallotOK: B.verifyBallot(ctx, y, q, inp.ballot),
  goTracker: B.tracker(ctx, inp.ballot),
  decryption: B.partialDecrypt(ctx, 1, B.parseScalar(inp.x), inp.tally),
  trustee: {index: 3, name: 'js', commitments: B.commitments(poly), proof: B.proveConstant(ectx, 3, poly[0])},
  sharePlain: B.scalarHex(B.decryptShare(ectx, B.parseScalar(inp.z), inp.share)),
  shareToGo: B.encryptShare(ectx, 3, 2, inp.zpub, B.polyAt(poly, 2)),
};
console.log(JSON.stringify(out));
`
	cmd := exec.Command(node, "--input-type=module", "-e", script, string(in))
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, outb)
	}
	var out struct {
		Ballot     Ballot
		Tracker    string
		Opened     []int
		Election   Ballot
		GoBallotOK bool
		GoTracker  string
		Decryption Decryption
		Trustee    TrusteePublic
		SharePlain string
		ShareToGo  EncryptedShare
	}
	lines := strings.Split(strings.TrimSpace(string(outb)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, outb)
	}
	if err := VerifyBallot(ctx, y, q, out.Ballot); err != nil {
		t.Errorf("JS ballot: %v", err)
	}
	if got := Tracker(ctx, out.Ballot); got != out.Tracker {
		t.Errorf("tracker: Go %s, JS %s", got, out.Tracker)
	}
	if !slices.Equal(out.Opened, []int{1, 0, 0}) {
		t.Errorf("Benaloh opening = %v", out.Opened)
	}
	eq := Question{Options: 4, Min: 1, Max: 2}
	if err := VerifyBallot(ItemContext("asm", "el", y, eq), y, eq, out.Election); err != nil {
		t.Errorf("JS election ballot: %v", err)
	}
	if !out.GoBallotOK {
		t.Error("JS refused a Go ballot")
	}
	if out.GoTracker != Tracker(ctx, goBallot) {
		t.Error("JS computes another tracker for a Go ballot")
	}
	if err := VerifyDecryption(ctx, VerificationKey(pubs(ts), 1), tally, out.Decryption); err != nil {
		t.Errorf("JS partial decryption: %v", err)
	}
	if err := CheckTrustee(ElectionContext("asm", 2, 3), 2, out.Trustee); err != nil {
		t.Errorf("JS trustee: %v", err)
	}
	if out.SharePlain != poly.At(2).String() {
		t.Error("JS decrypted a Go share wrongly")
	}
	s, err := DecryptShare(ElectionContext("asm", 2, 3), z, out.ShareToGo)
	if err != nil || !VerifyShare(out.Trustee.Commitments, 2, s) {
		t.Errorf("JS share to Go: %v", err)
	}
}

func pubs(ts []*SimTrustee) []TrusteePublic {
	var p []TrusteePublic
	for _, t := range ts {
		p = append(p, t.Public)
	}
	return p
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
