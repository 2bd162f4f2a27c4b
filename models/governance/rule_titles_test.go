package governance

import (
	"testing"

	"allmende/models/rulebook"
)

// TestEveryRuleHasATitle: a rule without a title shows as an empty link on
// the rules page (axe: link-name) and reads as its key in proposals.
func TestEveryRuleHasATitle(t *testing.T) {
	for _, def := range rulebook.RuleDefs {
		if ruleTitles[def.Key] == "" {
			t.Errorf("rule %s has no title in ruleTitles", def.Key)
		}
	}
}
