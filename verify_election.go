package main

import (
	"allmende/election"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const verifyElectionUsage = `usage: allmende verify-election [--tracker HEX] FILE

Recomputes a published election record (the JSON linked from an assembly's
results page): every trustee's key commitments and proofs, the election key,
each ballot's tracker and zero-knowledge proofs, the tally as the sum of the
ballots, each trustee's partial decryption and its proof, and the result.
Needs no database and no server. Exit status 0 when everything checks out,
1 with the first failure otherwise. FILE "-" reads standard input.
With --tracker (the code your browser showed when you cast your ballot),
it also says whether your ballot is among those counted, and on which item.`

// verifyElection is `allmende verify-election FILE`.
func verifyElection(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify-election", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tracker := fs.String("tracker", "", "a ballot's tracker to look for")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, verifyElectionUsage)
			return nil
		}
		return fmt.Errorf("verify-election: %w (see allmende verify-election --help)", err)
	}
	if fs.NArg() != 1 {
		return errors.New("usage: allmende verify-election FILE (more: allmende verify-election --help)")
	}
	in := io.Reader(os.Stdin)
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	rec, err := election.ReadRecord(in)
	if err != nil {
		return err
	}
	sum, err := election.Verify(rec)
	if err != nil {
		return fmt.Errorf("election record does NOT verify: %w", err)
	}
	fmt.Fprintf(stdout, "election %q (%s): %d of %d trustees, key %s\n", rec.Title, rec.ElectionID, rec.Threshold, len(rec.Trustees), rec.PublicKey)
	for _, it := range sum.Items {
		var res []string
		for i, o := range it.Options {
			res = append(res, fmt.Sprintf("%s %d", o, it.Result[i]))
		}
		fmt.Fprintf(stdout, "  %s: %d ballots, decrypted by trustees %v: %s\n", it.Title, it.Ballots, it.Trustees, strings.Join(res, ", "))
	}
	fmt.Fprintln(stdout, "verified: every proof holds and the results follow from the ballots")
	if t := strings.ToLower(strings.TrimSpace(*tracker)); t != "" {
		for _, it := range rec.Items {
			for _, b := range it.Ballots {
				if b.Tracker == t {
					fmt.Fprintf(stdout, "tracker %s: counted, on %q\n", t, it.Title)
					return nil
				}
			}
		}
		return fmt.Errorf("tracker %s is not in the record: that ballot was not counted (replaced by a later one, or never cast)", t)
	}
	return nil
}
