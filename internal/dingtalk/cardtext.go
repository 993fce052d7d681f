package dingtalk

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds of the walk through a card's element tree: a tree deeper, wider
// or wordier than a card shows is read up to these and no further.
const (
	maxCardDepth = 32
	maxCardNodes = 2000
)

// cardText is the text a card's element tree shows (a quoted robot card's
// content.cardContent, docs/protocols.md §1): the value of its TEXT and
// MARKDOWN elements, in the order of the tree, one a line, up to
// maxQuoteRunes. A tree that is not JSON shows nothing.
func cardText(raw json.RawMessage) string {
	raw = unwrapJSON(raw)
	if len(raw) == 0 {
		return ""
	}
	var tree any
	if json.Unmarshal(raw, &tree) != nil {
		return ""
	}
	var w cardWalk
	w.walk(tree, 0)
	return strings.Join(w.texts, "\n")
}

// cardWalk gathers the texts of a tree, counting what it has visited.
type cardWalk struct {
	texts        []string
	nodes, runes int
}

func (w *cardWalk) walk(v any, depth int) {
	if depth > maxCardDepth || w.nodes >= maxCardNodes || w.runes >= maxQuoteRunes {
		return
	}
	w.nodes++
	switch n := v.(type) {
	case []any:
		for _, child := range n {
			w.walk(child, depth+1)
		}
	case map[string]any:
		if t := elementText(n); t != "" {
			w.texts = append(w.texts, t)
			w.runes += utf8.RuneCountInString(t)
		}
		// children first, as the card shows them; then whatever else
		// holds elements, in a fixed order.
		w.walk(n["children"], depth+1)
		keys := make([]string, 0, len(n))
		for k, child := range n {
			switch child.(type) {
			case []any, map[string]any:
				if k != "children" {
					keys = append(keys, k)
				}
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			w.walk(n[k], depth+1)
		}
	}
}

// elementText is the text of one element of a card: the value of a TEXT
// or MARKDOWN element (its text, when a card names it so).
func elementText(n map[string]any) string {
	kind, _ := n["elementType"].(string)
	switch strings.ToUpper(kind) {
	case "TEXT", "MARKDOWN":
	default:
		return ""
	}
	for _, k := range []string{"value", "text", "content"} {
		if s, ok := n[k].(string); ok {
			if s = strings.TrimSpace(s); s != "" {
				return s
			}
		}
	}
	return ""
}
