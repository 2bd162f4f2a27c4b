package jobargs

// SendMail delivers one plain-text mail. Key identifies the mail across
// retries (Message-ID, outbox deduplication); empty means the job's ID.
type SendMail struct {
	To, Subject, Body string
	Key               string
}

func (SendMail) Kind() string { return "mail.send" }
