package metering

import (
	"context"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"

	"allmende/models"
	"allmende/models/internal/kit"
	"allmende/models/membership"
)

// Creditor is the cooperative as collector of a SEPA direct debit; the
// board enters it with the file.
type Creditor struct {
	Name           string
	IBAN           string
	ID             string // SEPA creditor identifier, e.g. DE98ZZZ09999999999
	CollectionDate time.Time
	DateValid      bool
}

var creditorIDRE = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}$`)

func (c *Creditor) validate(today time.Time) map[string]string {
	fields := map[string]string{}
	c.Name = strings.TrimSpace(c.Name)
	kit.TextField(fields, "creditor_name", c.Name, "Enter the creditor's name.", 70)
	c.IBAN = membership.NormalizeIBAN(c.IBAN)
	if !membership.ValidIBAN(c.IBAN) {
		fields["creditor_iban"] = "Enter a valid IBAN."
	}
	c.ID = strings.ToUpper(strings.Join(strings.Fields(c.ID), ""))
	if !creditorIDRE.MatchString(c.ID) {
		fields["creditor_id"] = "Enter the SEPA creditor identifier, such as DE98ZZZ09999999999."
	}
	if !c.DateValid || c.CollectionDate.Before(kit.DateOf(today)) {
		fields["collection_date"] = "Enter a collection date from today on."
	}
	return fields
}

// MandateReference is the mandate reference of a member's SEPA mandate:
// the application carries the mandate, so it is named by the member number
// and signed on the day of the application.
func MandateReference(memberNumber int64) string { return fmt.Sprintf("ALLMENDE-M%06d", memberNumber) }

// pain.008.001.08 (ISO 20022 customer direct debit initiation), the
// version German banks take since November 2023. Only the elements a SEPA
// core direct debit needs.
type painDocument struct {
	XMLName xml.Name       `xml:"urn:iso:std:iso:20022:tech:xsd:pain.008.001.08 Document"`
	Init    painInitiation `xml:"CstmrDrctDbtInitn"`
}

type painInitiation struct {
	GrpHdr struct {
		MsgID    string `xml:"MsgId"`
		CreDtTm  string `xml:"CreDtTm"`
		NbOfTxs  int    `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		InitgPty struct {
			Nm string `xml:"Nm"`
		} `xml:"InitgPty"`
	} `xml:"GrpHdr"`
	PmtInf painPaymentInfo `xml:"PmtInf"`
}

type painPaymentInfo struct {
	PmtInfID string `xml:"PmtInfId"`
	PmtMtd   string `xml:"PmtMtd"`
	NbOfTxs  int    `xml:"NbOfTxs"`
	CtrlSum  string `xml:"CtrlSum"`
	PmtTpInf struct {
		SvcLvl    painCode `xml:"SvcLvl"`
		LclInstrm painCode `xml:"LclInstrm"`
		SeqTp     string   `xml:"SeqTp"`
	} `xml:"PmtTpInf"`
	ReqdColltnDt string      `xml:"ReqdColltnDt"`
	Cdtr         painParty   `xml:"Cdtr"`
	CdtrAcct     painAccount `xml:"CdtrAcct"`
	CdtrAgt      painAgent   `xml:"CdtrAgt"`
	ChrgBr       string      `xml:"ChrgBr"`
	CdtrSchmeID  struct {
		ID struct {
			PrvtID struct {
				Othr struct {
					ID      string   `xml:"Id"`
					SchmeNm painProp `xml:"SchmeNm"`
				} `xml:"Othr"`
			} `xml:"PrvtId"`
		} `xml:"Id"`
	} `xml:"CdtrSchmeId"`
	Txs []painTx `xml:"DrctDbtTxInf"`
}

type painCode struct {
	Cd string `xml:"Cd"`
}
type painProp struct {
	Prtry string `xml:"Prtry"`
}
type painParty struct {
	Nm string `xml:"Nm"`
}
type painAccount struct {
	ID struct {
		IBAN string `xml:"IBAN"`
	} `xml:"Id"`
}
type painAgent struct {
	FinInstnID struct {
		Othr struct {
			ID string `xml:"Id"`
		} `xml:"Othr"`
	} `xml:"FinInstnId"`
}

type painTx struct {
	PmtID struct {
		EndToEndID string `xml:"EndToEndId"`
	} `xml:"PmtId"`
	InstdAmt struct {
		Ccy   string `xml:"Ccy,attr"`
		Value string `xml:",chardata"`
	} `xml:"InstdAmt"`
	DrctDbtTx struct {
		MndtRltdInf struct {
			MndtID    string `xml:"MndtId"`
			DtOfSgntr string `xml:"DtOfSgntr"`
		} `xml:"MndtRltdInf"`
	} `xml:"DrctDbtTx"`
	DbtrAgt  painAgent   `xml:"DbtrAgt"`
	Dbtr     painParty   `xml:"Dbtr"`
	DbtrAcct painAccount `xml:"DbtrAcct"`
	RmtInf   struct {
		Ustrd string `xml:"Ustrd"`
	} `xml:"RmtInf"`
}

// Debit is one member's direct debit in a file.
type Debit struct {
	Name, IBAN, MandateRef string
	SignedOn               time.Time
	AmountCents            int64
	StatementID            string
}

// SEPAFile is the month's direct debits of members with a SEPA mandate, for
// the closed statements with a positive total, as pain.008. The board
// downloads it; nothing is stored (the statements are the record).
func (c *Commons) SEPAFile(ctx context.Context, v models.Viewer, m Month, cr Creditor) ([]byte, []Debit, error) {
	if fields := cr.validate(c.clock.Now()); len(fields) > 0 {
		return nil, nil, models.Invalid(fields)
	}
	db := c.db.Gorm.WithContext(ctx)
	ms, err := c.BoardMonth(ctx, v, m)
	if err != nil {
		return nil, nil, err
	}
	if !ms.Closed {
		return nil, nil, models.Conflictf("%s is not closed yet: close it first.", m.Label())
	}
	var mandates []struct {
		UserID        string
		MemberNumber  int64
		LegalName     string
		AccountHolder string
		IBAN          string `gorm:"column:iban"`
		AppliedAt     time.Time
	}
	if err := db.Table("memberships").Where("sepa_mandate AND iban <> '' AND member_number IS NOT NULL AND status IN ?",
		[]string{"member", "leaving"}).Select("user_id, member_number, legal_name, account_holder, iban, applied_at").
		Scan(&mandates).Error; err != nil {
		return nil, nil, fmt.Errorf("read mandates: %w", err)
	}
	var debits []Debit
	for _, s := range ms.Statements {
		total := s.Total()
		if total <= 0 {
			continue
		}
		for _, md := range mandates {
			if md.UserID != s.UserID {
				continue
			}
			name := md.AccountHolder
			if name == "" {
				name = md.LegalName
			}
			debits = append(debits, Debit{Name: name, IBAN: md.IBAN, MandateRef: MandateReference(md.MemberNumber),
				SignedOn: md.AppliedAt, AmountCents: total, StatementID: s.ID})
		}
	}
	if len(debits) == 0 {
		return nil, nil, models.Conflictf("No member with a SEPA mandate has an amount due for %s.", m.Label())
	}
	doc := painDoc(cr, m, debits, c.clock.Now())
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("write pain.008: %w", err)
	}
	return append([]byte(xml.Header), out...), debits, nil
}

func painDoc(cr Creditor, m Month, debits []Debit, now time.Time) *painDocument {
	var sum int64
	for _, d := range debits {
		sum += d.AmountCents
	}
	d := &painDocument{}
	h := &d.Init.GrpHdr
	h.MsgID = "ALLMENDE-" + m.String() + "-" + now.UTC().Format("20060102150405")
	h.CreDtTm = now.UTC().Format("2006-01-02T15:04:05")
	h.NbOfTxs, h.CtrlSum = len(debits), euros(sum)
	h.InitgPty.Nm = sepaText(cr.Name, 70)
	p := &d.Init.PmtInf
	p.PmtInfID = "ALLMENDE-" + m.String()
	p.PmtMtd, p.NbOfTxs, p.CtrlSum = "DD", len(debits), euros(sum)
	p.PmtTpInf.SvcLvl.Cd, p.PmtTpInf.LclInstrm.Cd, p.PmtTpInf.SeqTp = "SEPA", "CORE", "RCUR"
	p.ReqdColltnDt = cr.CollectionDate.Format("2006-01-02")
	p.Cdtr.Nm = sepaText(cr.Name, 70)
	p.CdtrAcct.ID.IBAN = cr.IBAN
	p.CdtrAgt.FinInstnID.Othr.ID = "NOTPROVIDED" // IBAN-only, allowed in SEPA since 2016
	p.ChrgBr = "SLEV"
	p.CdtrSchmeID.ID.PrvtID.Othr.ID = cr.ID
	p.CdtrSchmeID.ID.PrvtID.Othr.SchmeNm.Prtry = "SEPA"
	for _, db := range debits {
		var t painTx
		t.PmtID.EndToEndID = sepaText("ALLMENDE-"+m.String()+"-"+strings.ReplaceAll(db.StatementID, "-", "")[:20], 35)
		t.InstdAmt.Ccy, t.InstdAmt.Value = "EUR", euros(db.AmountCents)
		t.DrctDbtTx.MndtRltdInf.MndtID = db.MandateRef
		t.DrctDbtTx.MndtRltdInf.DtOfSgntr = db.SignedOn.UTC().Format("2006-01-02")
		t.DbtrAgt.FinInstnID.Othr.ID = "NOTPROVIDED"
		t.Dbtr.Nm = sepaText(db.Name, 70)
		t.DbtrAcct.ID.IBAN = db.IBAN
		t.RmtInf.Ustrd = sepaText("Allmende statement "+m.String(), 140)
		p.Txs = append(p.Txs, t)
	}
	return d
}

func euros(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// sepaText keeps to the SEPA character set (Latin letters, digits and
// / - ? : ( ) . , ' + and space): umlauts are spelled out, anything else
// becomes a space.
func sepaText(s string, n int) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ß", "ss")
	s = r.Replace(s)
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("/-?:().,'+ ", c):
			b.WriteRune(c)
		default:
			b.WriteRune(' ')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > n {
		out = out[:n]
	}
	return out
}
