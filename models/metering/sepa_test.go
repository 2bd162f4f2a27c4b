package metering_test

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"allmende/models"
	"allmende/models/compute"
	"allmende/models/metering"
	"allmende/models/modelstest"
)

var sepaChars = regexp.MustCompile(`^[a-zA-Z0-9/\-?:().,'+ ]*$`)

// The month's direct debits: only members with a mandate, their statement
// totals, the mandate reference and date of signature; parsed back, the
// sums add up. Bad creditor data is a clear error.
func TestSEPADirectDebitFile(t *testing.T) {
	modelstest.EachDB(t, func(t *testing.T, db *models.DB) {
		me := modelstest.NewMEnv(t, db)
		anna, m := me.Member(t, "anna@example.org", "Anna Müller", 2)
		e := newEnv(t, db)
		ctx := t.Context()
		vm := e.vm(t, anna, e.big, compute.VMRunning, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		_ = vm
		e.vm(t, e.bob, e.small, compute.VMRunning, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) // no membership, no mandate
		clock := models.NewManualClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
		c := metering.NewCommons(db, metering.NewMetrics(db), clock)
		nov := metering.MonthOf(time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC))
		board := models.Viewer{UserID: me.Board1.UserID}
		good := metering.Creditor{Name: "Allmende eG", IBAN: "DE02 1203 0000 0000 2020 51", ID: "DE98ZZZ09999999999",
			CollectionDate: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), DateValid: true}

		_, _, err := c.SEPAFile(ctx, board, nov, good)
		modelstest.WantCode(t, err, 409) // not closed yet
		if _, err := c.CloseMonth(ctx, models.SystemActor("test"), nov); err != nil {
			t.Fatal(err)
		}
		bad := good
		bad.IBAN, bad.ID, bad.DateValid = "DE00 1234", "nope", false
		_, _, err = c.SEPAFile(ctx, board, nov, bad)
		if de := modelstest.WantCode(t, err, 422); len(de.Fields) != 3 {
			t.Errorf("fields = %v", de.Fields)
		}
		_, _, err = c.SEPAFile(ctx, models.Viewer{UserID: anna.UserID}, nov, good)
		modelstest.WantCode(t, err, 403)

		data, debits, err := c.SEPAFile(ctx, board, nov, good)
		if err != nil {
			t.Fatal(err)
		}
		var f modelstest.PainFile
		if err := xml.Unmarshal(data, &f); err != nil {
			t.Fatalf("parse back: %v\n%s", err, data)
		}
		sts, err := c.Statements(ctx, models.Viewer{UserID: anna.UserID})
		if err != nil || len(sts) != 1 {
			t.Fatalf("anna's statements: %v %v", sts, err)
		}
		total := sts[0].Total()
		want := strconv.FormatInt(total/100, 10) + "." + leftPad(total%100)
		if len(debits) != 1 || f.Hdr.NbOfTxs != 1 || f.Pmt.NbOfTxs != 1 || len(f.Pmt.Txs) != 1 {
			t.Fatalf("transactions: %d debits, header %d, %d in file\n%s", len(debits), f.Hdr.NbOfTxs, len(f.Pmt.Txs), data)
		}
		tx := f.Pmt.Txs[0]
		if f.Hdr.CtrlSum != want || f.Pmt.CtrlSum != want || tx.Amt.Value != want || tx.Amt.Ccy != "EUR" {
			t.Errorf("sums: header %s, payment %s, tx %s %s; want %s", f.Hdr.CtrlSum, f.Pmt.CtrlSum, tx.Amt.Value, tx.Amt.Ccy, want)
		}
		if tx.MndtID != metering.MandateReference(*m.MemberNumber) || tx.Signed != "2026-03-15" {
			t.Errorf("mandate %q signed %q", tx.MndtID, tx.Signed)
		}
		if tx.IBAN != "DE89370400440532013000" || tx.Dbtr != "Anna Mueller" {
			t.Errorf("debtor %q %q", tx.Dbtr, tx.IBAN)
		}
		if f.Pmt.PmtMtd != "DD" || f.Pmt.Svc != "SEPA" || f.Pmt.Instr != "CORE" || f.Pmt.SeqTp != "RCUR" || f.Pmt.Date != "2026-12-10" ||
			f.Pmt.CdtrIBAN != "DE02120300000000202051" || f.Pmt.CdtrID != "DE98ZZZ09999999999" {
			t.Errorf("payment information: %+v", f.Pmt)
		}
		// The EPC rules a bank checks beyond the schema: Latin character
		// set, identifiers of at most 35 characters.
		for _, s := range []string{f.Hdr.MsgID, tx.E2E, tx.MndtID, tx.Dbtr, tx.Ustrd, f.Pmt.Cdtr} {
			if !sepaChars.MatchString(s) {
				t.Errorf("%q is outside the SEPA character set", s)
			}
		}
		for _, s := range []string{f.Hdr.MsgID, tx.E2E, tx.MndtID} {
			if len(s) > 35 || strings.TrimSpace(s) == "" {
				t.Errorf("identifier %q: 1 to 35 characters", s)
			}
		}
	})
}

func leftPad(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}
