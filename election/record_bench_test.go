package election

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// benchRecord is a record of n yes/no/abstain ballots and n election
// ballots (two of five), as `allmende verify-election` reads it.
func benchRecord(b *testing.B, n int, format string) []byte {
	b.Helper()
	const eid = "bench"
	ts, y, err := SimulateCeremony(eid, 2, 3)
	if err != nil {
		b.Fatal(err)
	}
	rec := &Record{Format: RecordFormat, ElectionID: eid, Title: "Benchmark", Threshold: 2, PublicKey: y}
	for _, t := range ts {
		rec.Trustees = append(rec.Trustees, t.Public)
	}
	yna := make([][]int, n)
	el := make([][]int, n)
	for i := range n {
		yna[i] = []int{0, 0, 0}
		yna[i][i%3] = 1
		el[i] = []int{0, 0, 0, 0, 0, 0}
		el[i][i%5], el[i][(i+1)%5] = 1, 1
	}
	it1, err := SimulateItem(eid, y, ts, 2, "item-1", "Item", yesNoAbstain, 1, 1, yna)
	if err != nil {
		b.Fatal(err)
	}
	it2, err := SimulateItem(eid, y, ts, 2, "item-2", "Election", []string{"A", "B", "C", "D", "E", "abstain"}, 1, 2, el)
	if err != nil {
		b.Fatal(err)
	}
	rec.Items = []ItemRecord{it1, it2}
	if format == RecordFormat1 {
		asFormat1(rec)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkVerifyRecord reads and verifies a record of 200 + 200 ballots
// (per op) in each format, reporting CPU time per ballot.
func BenchmarkVerifyRecord(b *testing.B) {
	for _, format := range []string{RecordFormat2, RecordFormat1} {
		b.Run(format[len(format)-1:], func(b *testing.B) {
			const n = 200
			raw := benchRecord(b, n, format)
			c0 := cpuNanos()
			for b.Loop() {
				rec, err := ReadRecord(bytes.NewReader(raw))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Verify(rec); err != nil {
					b.Fatal(fmt.Errorf("verify: %w", err))
				}
			}
			b.ReportMetric(float64(cpuNanos()-c0)/float64(b.N*2*n), "cpu-ns/ballot")
		})
	}
}
