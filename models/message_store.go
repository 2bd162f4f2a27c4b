package models

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// A Msg is stored beside the English text it was formatted into (the
// member register's history, the case log …), as JSON: {"format": …,
// "args": […]}, so a page can show it in the reader's language. A zero Msg
// is stored as '' (a row from before, shown as its text). An argument that
// is itself a Msg (an organ's title …) is stored the same way inside, so it
// is translated too.

type storedMsg struct {
	Format string `json:"format"`
	Args   []any  `json:"args,omitempty"`
}

// Value stores m as JSON, or ” when it is zero.
func (m Msg) Value() (driver.Value, error) {
	if m.Format == "" {
		return "", nil
	}
	b, err := json.Marshal(toStored(m))
	if err != nil {
		return nil, fmt.Errorf("store message %q: %w", m.Format, err)
	}
	return string(b), nil
}

// Scan reads a Msg stored by Value. Numbers come back as int when they are
// whole (a %d takes them) and as float64 otherwise.
func (m *Msg) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan message: unexpected %T", src)
	}
	*m = Msg{}
	if len(b) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var s storedMsg
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("scan message: %w", err)
	}
	*m = fromStored(s)
	return nil
}

func toStored(m Msg) storedMsg {
	s := storedMsg{Format: m.Format, Args: make([]any, len(m.Args))}
	for i, a := range m.Args {
		if inner, ok := a.(Msg); ok {
			a = toStored(inner)
		}
		s.Args[i] = a
	}
	return s
}

func fromStored(s storedMsg) Msg {
	m := Msg(s)
	for i, a := range m.Args {
		switch a := a.(type) {
		case json.Number:
			if v, err := a.Int64(); err == nil {
				m.Args[i] = int(v)
			} else if f, err := a.Float64(); err == nil {
				m.Args[i] = f
			}
		case map[string]any:
			if format, ok := a["format"].(string); ok {
				inner, _ := a["args"].([]any)
				m.Args[i] = fromStored(storedMsg{Format: format, Args: inner})
			}
		}
	}
	return m
}

// Verbatim is a text a person wrote (a moderator's note, a booking's
// reason), as a message: it is shown as written in every language.
func Verbatim(text string) Msg { return Msg{Format: "%s", Args: []any{text}} }

// GormDataType tells gorm a Msg is a text column.
func (Msg) GormDataType() string { return "text" }
