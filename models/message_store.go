package models

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// A Msg is stored beside the English text it was formatted into (the
// member register's history, the case log …), as JSON: {"format": …,
// "args": […]}, so a page can show it in the reader's language. A zero Msg
// is stored as '' (a row from before, shown as its text).
//
// Arguments keep their type, since Text formats dates and amounts by it: an
// argument that is itself a Msg (an organ's name …) is stored the same way
// inside, so it is translated too; a time.Time as {"time": RFC 3339 in
// UTC}, a Moment as {"moment": the same}, a Cents as {"cents": n}, a List as {"list": [messages]}. Text and
// numbers are stored as themselves, which is also all a row from before
// holds.

type storedMsg struct {
	Format string `json:"format"`
	Args   []any  `json:"args,omitempty"`
}

// The tagged forms of typed arguments; exactly one key each, so they are
// told apart from a nested message by the key.
type (
	storedTime struct {
		Time string `json:"time"`
	}
	storedMoment struct {
		Moment string `json:"moment"`
	}
	storedCents struct {
		Cents int64 `json:"cents"`
	}
	storedList struct {
		List []storedMsg `json:"list"`
	}
)

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
	*m = Msg{}
	var s storedMsg
	if ok, err := decodeStored(src, &s); err != nil || !ok {
		return err
	}
	*m = fromStored(s)
	return nil
}

// Args are the arguments of a message stored without its format (a
// notification keeps the format in a column of its own): a JSON array of
// the arguments in Msg's stored form, "[]" when there are none.
type Args []any

// Value stores the arguments as a JSON array.
func (a Args) Value() (driver.Value, error) {
	if len(a) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(storeArgs(a))
	if err != nil {
		return nil, fmt.Errorf("store arguments: %w", err)
	}
	return string(b), nil
}

// Scan reads arguments stored by Value, or a plain array of text and
// numbers (a row from before arguments kept their types).
func (a *Args) Scan(src any) error {
	*a = nil
	var raw []any
	if ok, err := decodeStored(src, &raw); err != nil || !ok {
		return err
	}
	*a = loadArgs(raw)
	return nil
}

// GormDataType tells gorm Args are a text column.
func (Args) GormDataType() string { return "text" }

// decodeStored decodes a text column's JSON into v, keeping numbers as
// json.Number; it says false for an empty column.
func decodeStored(src any, v any) (bool, error) {
	var b []byte
	switch s := src.(type) {
	case nil:
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return false, fmt.Errorf("scan message: unexpected %T", src)
	}
	if len(b) == 0 {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return false, fmt.Errorf("scan message: %w", err)
	}
	return true, nil
}

func toStored(m Msg) storedMsg {
	return storedMsg{Format: m.Format, Args: storeArgs(m.Args)}
}

func storeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case Msg:
			a = toStored(v)
		case time.Time:
			a = storedTime{Time: v.UTC().Format(time.RFC3339Nano)}
		case Moment:
			a = storedMoment{Moment: time.Time(v).UTC().Format(time.RFC3339Nano)}
		case Cents:
			a = storedCents{Cents: int64(v)}
		case List:
			l := storedList{List: make([]storedMsg, len(v))}
			for j, m := range v {
				l.List[j] = toStored(m)
			}
			a = l
		}
		out[i] = a
	}
	return out
}

func fromStored(s storedMsg) Msg {
	return Msg{Format: s.Format, Args: loadArgs(s.Args)}
}

// loadArgs turns decoded JSON arguments back into what storeArgs stored.
// A tagged value that does not read (a broken time) stays as it came.
func loadArgs(args []any) []any {
	for i, a := range args {
		switch a := a.(type) {
		case json.Number:
			if v, err := a.Int64(); err == nil {
				args[i] = int(v)
			} else if f, err := a.Float64(); err == nil {
				args[i] = f
			}
		case map[string]any:
			if m, ok := loadMsg(a); ok {
				args[i] = m
			} else if s, ok := a["time"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					args[i] = t.UTC()
				}
			} else if s, ok := a["moment"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					args[i] = Moment(t.UTC())
				}
			} else if n, ok := a["cents"].(json.Number); ok {
				if c, err := n.Int64(); err == nil {
					args[i] = Cents(c)
				}
			} else if l, ok := a["list"].([]any); ok {
				list := make(List, 0, len(l))
				for _, e := range l {
					if e, ok := e.(map[string]any); ok {
						if m, ok := loadMsg(e); ok {
							list = append(list, m)
						}
					}
				}
				args[i] = list
			}
		}
	}
	return args
}

// loadMsg reads a nested message in its decoded JSON form.
func loadMsg(a map[string]any) (Msg, bool) {
	format, ok := a["format"].(string)
	if !ok {
		return Msg{}, false
	}
	inner, _ := a["args"].([]any)
	return fromStored(storedMsg{Format: format, Args: inner}), true
}

// Verbatim is a text a person wrote (a moderator's note, a booking's
// reason), as a message: it is shown as written in every language.
func Verbatim(text string) Msg { return Msg{Format: "%s", Args: []any{text}} }

// GormDataType tells gorm a Msg is a text column.
func (Msg) GormDataType() string { return "text" }
