package modelstest

import "encoding/xml"

// PainFile is what a bank reads from a SEPA direct-debit file (pain.008),
// parsed back independently of the writer (models/metering), for the
// tests of the writer and of the API that serves the file.
type PainFile struct {
	XMLName xml.Name `xml:"urn:iso:std:iso:20022:tech:xsd:pain.008.001.08 Document"`
	Hdr     struct {
		MsgID   string `xml:"MsgId"`
		NbOfTxs int    `xml:"NbOfTxs"`
		CtrlSum string `xml:"CtrlSum"`
	} `xml:"CstmrDrctDbtInitn>GrpHdr"`
	Pmt struct {
		PmtMtd   string `xml:"PmtMtd"`
		NbOfTxs  int    `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		Svc      string `xml:"PmtTpInf>SvcLvl>Cd"`
		Instr    string `xml:"PmtTpInf>LclInstrm>Cd"`
		SeqTp    string `xml:"PmtTpInf>SeqTp"`
		Date     string `xml:"ReqdColltnDt"`
		Cdtr     string `xml:"Cdtr>Nm"`
		CdtrIBAN string `xml:"CdtrAcct>Id>IBAN"`
		CdtrID   string `xml:"CdtrSchmeId>Id>PrvtId>Othr>Id"`
		Txs      []struct {
			E2E string `xml:"PmtId>EndToEndId"`
			Amt struct {
				Ccy   string `xml:"Ccy,attr"`
				Value string `xml:",chardata"`
			} `xml:"InstdAmt"`
			MndtID string `xml:"DrctDbtTx>MndtRltdInf>MndtId"`
			Signed string `xml:"DrctDbtTx>MndtRltdInf>DtOfSgntr"`
			Dbtr   string `xml:"Dbtr>Nm"`
			IBAN   string `xml:"DbtrAcct>Id>IBAN"`
			Ustrd  string `xml:"RmtInf>Ustrd"`
		} `xml:"DrctDbtTxInf"`
	} `xml:"CstmrDrctDbtInitn>PmtInf"`
}
