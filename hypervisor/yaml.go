package hypervisor

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// A tiny YAML writer for cloud-init's files, so that no value a member
// typed (a host name, an SSH key) can break out of its place: every string
// is written as a JSON string, which YAML reads as a double-quoted scalar.
// Block style keeps the files readable for someone debugging a guest.

// yamlMap is a mapping whose keys keep their order.
type yamlMap []yamlField

type yamlField struct {
	key   string
	value any // string, bool, int, yamlMap or yamlList
}

type yamlList []any

// plainKey matches the keys written unquoted; keys are ours, never input.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// marshalYAML renders a document.
func marshalYAML(doc yamlMap) (string, error) {
	var b strings.Builder
	if err := writeYAMLMap(&b, doc, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeYAMLMap(b *strings.Builder, m yamlMap, indent int) error {
	pad := strings.Repeat(" ", indent)
	for _, f := range m {
		if !plainKey.MatchString(f.key) {
			return fmt.Errorf("yaml: key %q is not a plain identifier", f.key)
		}
		switch v := f.value.(type) {
		case yamlMap:
			if len(v) == 0 {
				fmt.Fprintf(b, "%s%s: {}\n", pad, f.key)
				continue
			}
			fmt.Fprintf(b, "%s%s:\n", pad, f.key)
			if err := writeYAMLMap(b, v, indent+2); err != nil {
				return err
			}
		case yamlList:
			if len(v) == 0 {
				fmt.Fprintf(b, "%s%s: []\n", pad, f.key)
				continue
			}
			fmt.Fprintf(b, "%s%s:\n", pad, f.key)
			if err := writeYAMLList(b, v, indent+2); err != nil {
				return err
			}
		default:
			s, err := yamlScalar(v)
			if err != nil {
				return fmt.Errorf("yaml: %s: %w", f.key, err)
			}
			fmt.Fprintf(b, "%s%s: %s\n", pad, f.key, s)
		}
	}
	return nil
}

func writeYAMLList(b *strings.Builder, l yamlList, indent int) error {
	pad := strings.Repeat(" ", indent)
	for _, item := range l {
		m, ok := item.(yamlMap)
		if !ok {
			s, err := yamlScalar(item)
			if err != nil {
				return fmt.Errorf("yaml: list item: %w", err)
			}
			fmt.Fprintf(b, "%s- %s\n", pad, s)
			continue
		}
		if len(m) == 0 {
			fmt.Fprintf(b, "%s- {}\n", pad)
			continue
		}
		// A mapping in a list: its first key goes on the dash's line, the
		// rest line up under it.
		var item strings.Builder
		if err := writeYAMLMap(&item, m, indent+2); err != nil {
			return err
		}
		b.WriteString(pad + "- " + strings.TrimPrefix(item.String(), pad+"  "))
	}
	return nil
}

func yamlScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return jsonString(v), nil
	case bool, int:
		return fmt.Sprint(v), nil
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}

// jsonString quotes s as JSON, which is valid YAML. HTML escaping is off
// only for readability: "\u003c" would be just as correct.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
