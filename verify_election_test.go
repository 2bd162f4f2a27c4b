package main

import (
	"allmende/election"
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyElectionCommand: the CLI accepts a real record and refuses the
// same record with one partial decryption changed.
func TestVerifyElectionCommand(t *testing.T) {
	ts, y, err := election.SimulateCeremony("a1", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	rec := &election.Record{Format: election.RecordFormat, ElectionID: "a1", Title: "AGM", Threshold: 2, PublicKey: y}
	for _, tr := range ts {
		rec.Trustees = append(rec.Trustees, tr.Public)
	}
	it, err := election.SimulateItem("a1", y, ts, 2, "i1", "Budget", []string{"yes", "no", "abstain"}, 1, 1,
		[][]int{{1, 0, 0}, {1, 0, 0}, {0, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	rec.Items = []election.ItemRecord{it}
	dir := t.TempDir()
	write := func(name string, r *election.Record) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	log := slog.New(slog.DiscardHandler)
	var out bytes.Buffer
	if err := run([]string{"verify-election", write("good.json", rec)}, nil, &out, log); err != nil {
		t.Fatalf("good record: %v", err)
	}
	if !strings.Contains(out.String(), "yes 2, no 1, abstain 0") {
		t.Errorf("output lacks the result: %s", out.String())
	}
	good := write("good.json", rec)
	out.Reset()
	if err := run([]string{"verify-election", "--tracker", it.Ballots[1].Tracker, good}, nil, &out, log); err != nil ||
		!strings.Contains(out.String(), "counted, on \"Budget\"") {
		t.Errorf("tracker lookup: %v %s", err, out.String())
	}
	if err := run([]string{"verify-election", "--tracker", strings.Repeat("ab", 32), good}, nil, &out, log); err == nil {
		t.Error("an unknown tracker was reported counted")
	}
	rec.Items[0].Decryptions[0].Factors[1] = rec.Items[0].Decryptions[0].Factors[2]
	err = run([]string{"verify-election", write("bad.json", rec)}, nil, &out, log)
	if err == nil || !strings.Contains(err.Error(), "trustee 1") {
		t.Errorf("changed decryption: %v", err)
	}
}
