package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// jsonSerializer encodes session values as JSON instead of gob. gob builds
// a fresh decoder for every cookie, which was the largest single cost of a
// signed-in page (about a fifth of its CPU time). Session values are only
// strings, int64s and the flash list, all of which survive JSON.
type jsonSerializer struct{}

func (jsonSerializer) Serialize(src interface{}) ([]byte, error) {
	m, ok := src.(map[interface{}]interface{})
	if !ok {
		return nil, fmt.Errorf("session values: unexpected type %T", src)
	}
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("session values: key %v is not a string", k)
		}
		out[ks] = v
	}
	return json.Marshal(out)
}

func (jsonSerializer) Deserialize(src []byte, dst interface{}) error {
	m, ok := dst.(*map[interface{}]interface{})
	if !ok {
		return fmt.Errorf("session values: unexpected destination %T", dst)
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber() // keep int64 values (the session epoch) exact
	var in map[string]interface{}
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("session values: %w", err)
	}
	for k, v := range in {
		if n, ok := v.(json.Number); ok {
			i, err := n.Int64()
			if err != nil {
				return fmt.Errorf("session value %s: %w", k, err)
			}
			v = i
		}
		(*m)[k] = v
	}
	return nil
}
