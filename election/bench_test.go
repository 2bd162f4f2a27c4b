package election

import (
	"encoding/json"
	"syscall"
	"testing"
)

func benchSetup(b *testing.B) (*Point, Question, []byte, Ballot) {
	_, y, err := SimulateCeremony("bench", 2, 3)
	if err != nil {
		b.Fatal(err)
	}
	q := Question{Options: 3, Min: 1, Max: 1}
	ctx := ItemContext("bench", "item", y, q)
	bal, _, err := EncryptBallot(ctx, y, q, []int{0, 1, 0})
	if err != nil {
		b.Fatal(err)
	}
	// The server verifies a ballot it decoded from the request's JSON.
	raw, err := json.Marshal(bal)
	if err != nil {
		b.Fatal(err)
	}
	var dec Ballot
	if err := json.Unmarshal(raw, &dec); err != nil {
		b.Fatal(err)
	}
	return y, q, ctx, dec
}

// BenchmarkVerifyBallot is the server's check of one yes/no/abstain ballot.
func BenchmarkVerifyBallot(b *testing.B) {
	y, q, ctx, bal := benchSetup(b)
	for b.Loop() {
		if err := VerifyBallot(ctx, y, q, bal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptBallot is the Go twin of the browser's work per ballot.
func BenchmarkEncryptBallot(b *testing.B) {
	y, q, ctx, _ := benchSetup(b)
	for b.Loop() {
		if _, _, err := EncryptBallot(ctx, y, q, []int{1, 0, 0}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBallotCPU reports the CPU time per verification too, which
// a shared machine disturbs less than the wall clock.
func BenchmarkVerifyBallotCPU(b *testing.B) {
	y, q, ctx, bal := benchSetup(b)
	c0 := cpuNanos()
	for b.Loop() {
		if err := VerifyBallot(ctx, y, q, bal); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuNanos()-c0)/float64(b.N), "cpu-ns/op")
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
