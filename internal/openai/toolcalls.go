package openai

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Bounds on the tool calls of one answer, against an endpoint that is
// hostile or broken: a model that means it asks for a few calls of a few
// hundred bytes each.
const (
	// MaxToolCalls is the most calls one answer may ask for.
	MaxToolCalls = 16
	// MaxToolArgumentBytes is the most arguments one call may have.
	MaxToolArgumentBytes = 64 << 10
)

// toolCalls assembles the tool calls of one answer from the pieces a
// stream brings (docs/protocols.md §14). A piece names its call by index;
// only a call's first piece is sure to carry its id and name (Qwen leaves
// them out of the others), its arguments come cut anywhere, and the pieces
// of several calls may come in turns.
//
// A piece without an index (some servers send none) belongs to the call of
// its id, to a new call when the id is new, and to the last call when it
// has no id.
type toolCalls struct {
	byIndex map[int]*partialCall
	// order is the indexes in the order they first came.
	order []int
	last  int
}

// partialCall is a call as far as it has come.
type partialCall struct {
	id, name string
	args     strings.Builder
}

// add takes the tool-call pieces of one chunk. It fails, with an *Error
// of kind chat.ErrModelUnavailable (an answer that is not one), when the
// answer asks for more than MaxToolCalls calls or a call's arguments grow
// past MaxToolArgumentBytes.
func (a *toolCalls) add(pieces []goopenai.ToolCall) error {
	for _, p := range pieces {
		c, err := a.call(p)
		if err != nil {
			return err
		}
		// The first id and the first name stay: some servers repeat them
		// in every piece, none is known to send them cut.
		if c.id == "" {
			c.id = p.ID
		}
		if c.name == "" {
			c.name = p.Function.Name
		}
		if c.args.Len()+len(p.Function.Arguments) > MaxToolArgumentBytes {
			return notAnAnswer(fmt.Sprintf("the arguments of a tool call (%s) exceed %d KiB", nameOr(c.name), MaxToolArgumentBytes>>10))
		}
		c.args.WriteString(p.Function.Arguments)
	}
	return nil
}

// call finds or starts the call a piece belongs to.
func (a *toolCalls) call(p goopenai.ToolCall) (*partialCall, error) {
	index := a.last
	switch {
	case p.Index != nil:
		index = *p.Index
	case p.ID != "":
		found := false
		for _, i := range a.order {
			if a.byIndex[i].id == p.ID {
				index, found = i, true
				break
			}
		}
		if !found && len(a.order) > 0 {
			index = slices.Max(a.order) + 1
		}
	}
	a.last = index
	if c, ok := a.byIndex[index]; ok {
		return c, nil
	}
	if len(a.order) == MaxToolCalls {
		return nil, notAnAnswer(fmt.Sprintf("the answer asks for more than %d tool calls", MaxToolCalls))
	}
	if a.byIndex == nil {
		a.byIndex = make(map[int]*partialCall)
	}
	c := &partialCall{}
	a.byIndex[index] = c
	a.order = append(a.order, index)
	return c, nil
}

// calls returns the calls in the order of their indexes, and how many
// were dropped. A call without a name is dropped: no tool can answer it,
// and the provider would refuse it when it came back with its result. A
// call without an id (or with the id of an earlier call) gets one made
// from round, the number of the tool round it starts (1 for the first),
// and its index: the same answer gets the same ids, and no two calls of a
// question share one. Empty arguments become {}.
func (a *toolCalls) calls(round int) (calls []chat.ToolCall, dropped int) {
	indexes := slices.Clone(a.order)
	slices.Sort(indexes)
	ids := make(map[string]bool, len(indexes))
	for _, i := range indexes {
		c := a.byIndex[i]
		if c.name == "" {
			dropped++
			continue
		}
		id := c.id
		if id == "" || ids[id] {
			id = fmt.Sprintf("call_%d_%d", round, i)
			for n := 2; ids[id]; n++ {
				id = fmt.Sprintf("call_%d_%d_%d", round, i, n)
			}
		}
		ids[id] = true
		args := c.args.String()
		if strings.TrimSpace(args) == "" {
			args = emptyArguments
		}
		calls = append(calls, chat.ToolCall{ID: id, Name: c.name, Arguments: args})
	}
	return calls, dropped
}

func nameOr(name string) string {
	if name == "" {
		return "no name yet"
	}
	return name
}

// notAnAnswer is the failure of an answer the client will not take.
func notAnAnswer(msg string) *Error {
	return &Error{Kind: chat.ErrModelUnavailable, StatusCode: http.StatusOK, Message: msg}
}
