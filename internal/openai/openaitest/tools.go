package openaitest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Tool is a tool a request offers the model.
type Tool struct {
	// Type is "function", or Moonshot's "builtin_function" (its
	// $web_search).
	Type        string
	Name        string
	Description string
	// Parameters is the function's parameters as sent; nil when the entry
	// has none.
	Parameters json.RawMessage
	// JSON is the whole entry of the request's tools, as sent.
	JSON json.RawMessage
}

// ToolCall is a call to a tool: one the model makes (Response.ToolCalls),
// or one an assistant message of a request carries (Request.ToolCalls).
type ToolCall struct {
	// Message is, in a request, the index in Request.Messages of the
	// assistant message that carries the call; unused in a Response.
	Message int
	// ID is the call's id; in a Response, empty makes the server choose
	// one, as providers do.
	ID string
	// Type is "function" (the default in a Response) or, for Moonshot's
	// builtin, "builtin_function".
	Type      string
	Name      string
	Arguments string
}

// functionName is what the OpenAI API takes as a function's name.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// maxFunctionName is the longest name the OpenAI API takes.
const maxFunctionName = 64

// builtinFunction is Moonshot's type for the tools it runs itself; the
// fake takes it, as Moonshot does, for names that start with $.
const builtinFunction = "builtin_function"

type wireTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        *string         `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type wireToolCall struct {
	ID       *string `json:"id"`
	Type     string  `json:"type"`
	Function *struct {
		Name      *string `json:"name"`
		Arguments *string `json:"arguments"`
	} `json:"function"`
}

// invalidValue, missing and invalidParam are the real API's refusals of a
// request's fields.
func invalidValue(param, msg string) *wireErrorBody {
	return &wireErrorBody{Message: msg, Type: "invalid_request_error", Param: &param, Code: ptr("invalid_value")}
}

func missing(param string) *wireErrorBody {
	return &wireErrorBody{
		Message: fmt.Sprintf("Missing required parameter: '%s'.", param),
		Type:    "invalid_request_error", Param: &param, Code: ptr("missing_required_parameter"),
	}
}

func invalidParam(param, msg string) *wireErrorBody {
	return &wireErrorBody{Message: msg, Type: "invalid_request_error", Param: &param}
}

// decodeTools reads and checks a request's tools as OpenAI does (and
// Moonshot, for its builtin): an empty array, a type it does not know, a
// function without a name or with one outside ^[a-zA-Z0-9_-]{1,64}$, or
// parameters that are not an object are refused.
func decodeTools(raw json.RawMessage) ([]Tool, *wireErrorBody) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, invalidParam("tools", "Invalid type for 'tools': expected an array of objects, but got something else instead.")
	}
	if len(entries) == 0 {
		// Some providers, OpenAI among them, refuse an empty array.
		return nil, &wireErrorBody{
			Message: "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
			Type:    "invalid_request_error", Param: ptr("tools"), Code: ptr("empty_array"),
		}
	}
	tools := make([]Tool, 0, len(entries))
	for i, entry := range entries {
		var w wireTool
		if err := json.Unmarshal(entry, &w); err != nil {
			return nil, invalidParam(fmt.Sprintf("tools[%d]", i), fmt.Sprintf("Invalid type for 'tools[%d]': expected an object, but got something else instead.", i))
		}
		if w.Type != "function" && w.Type != builtinFunction {
			return nil, invalidValue(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function' and 'custom'.", w.Type))
		}
		if w.Function == nil {
			return nil, missing(fmt.Sprintf("tools[%d].function", i))
		}
		if w.Function.Name == nil {
			return nil, missing(fmt.Sprintf("tools[%d].function.name", i))
		}
		name := *w.Function.Name
		param := fmt.Sprintf("tools[%d].function.name", i)
		switch {
		case w.Type == builtinFunction:
			if !strings.HasPrefix(name, "$") {
				return nil, invalidValue(param, fmt.Sprintf("Invalid '%s': a builtin_function is one of the platform's own, such as '$web_search'.", param))
			}
		case len(name) > maxFunctionName:
			return nil, &wireErrorBody{
				Message: fmt.Sprintf("Invalid '%s': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", param, maxFunctionName, len(name)),
				Type:    "invalid_request_error", Param: &param, Code: ptr("string_above_max_length"),
			}
		case !functionName.MatchString(name):
			return nil, invalidValue(param, fmt.Sprintf("Invalid '%s': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", param))
		}
		if p := w.Function.Parameters; p != nil {
			var object map[string]json.RawMessage
			if json.Unmarshal(p, &object) != nil || object == nil {
				pp := fmt.Sprintf("tools[%d].function.parameters", i)
				return nil, &wireErrorBody{
					Message: fmt.Sprintf("Invalid type for '%s': expected an object, but got %s instead.", pp, jsonKind(p)),
					Type:    "invalid_request_error", Param: &pp, Code: ptr("invalid_type"),
				}
			}
		}
		tools = append(tools, Tool{Type: w.Type, Name: name, Description: w.Function.Description, Parameters: w.Function.Parameters, JSON: entry})
	}
	return tools, nil
}

// jsonKind names the kind of a JSON value as OpenAI's messages do.
func jsonKind(v json.RawMessage) string {
	switch s := strings.TrimSpace(string(v)); {
	case s == "null":
		return "null"
	case strings.HasPrefix(s, "["):
		return "an array"
	case strings.HasPrefix(s, `"`):
		return "a string"
	case s == "true" || s == "false":
		return "a boolean"
	}
	return "a number"
}

// decodeToolCalls reads the tool calls of assistant message i.
func decodeToolCalls(i int, raw []wireToolCall) ([]ToolCall, *wireErrorBody) {
	calls := make([]ToolCall, 0, len(raw))
	for j, w := range raw {
		at := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
		switch {
		case w.ID == nil:
			return nil, missing(at + ".id")
		case w.Type != "function" && w.Type != builtinFunction:
			return nil, invalidValue(at+".type", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function'.", w.Type))
		case w.Function == nil:
			return nil, missing(at + ".function")
		case w.Function.Name == nil:
			return nil, missing(at + ".function.name")
		case w.Function.Arguments == nil:
			return nil, missing(at + ".function.arguments")
		}
		calls = append(calls, ToolCall{Message: i, ID: *w.ID, Type: w.Type, Name: *w.Function.Name, Arguments: *w.Function.Arguments})
	}
	return calls, nil
}

// checkToolTurns refuses, as OpenAI does, a tool message that answers no
// call of the assistant message before the run of tool messages it is in,
// and an assistant message whose calls are not all answered right after
// it.
func checkToolTurns(msgs []Message, calls []ToolCall) *wireErrorBody {
	callsOf := make(map[int][]ToolCall)
	for _, c := range calls {
		callsOf[c.Message] = append(callsOf[c.Message], c)
	}
	for i := 0; i < len(msgs); i++ {
		if msgs[i].Role == "tool" {
			return invalidParam(fmt.Sprintf("messages.[%d].role", i),
				"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
		}
		own := callsOf[i]
		if msgs[i].Role != "assistant" || len(own) == 0 {
			continue
		}
		unanswered := make(map[string]bool, len(own))
		for _, c := range own {
			unanswered[c.ID] = true
		}
		j := i + 1
		for ; j < len(msgs) && msgs[j].Role == "tool"; j++ {
			if !unanswered[msgs[j].ToolCallID] {
				return invalidParam(fmt.Sprintf("messages.[%d].role", j),
					"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			delete(unanswered, msgs[j].ToolCallID)
		}
		if len(unanswered) > 0 {
			var ids []string
			for _, c := range own {
				if unanswered[c.ID] {
					ids = append(ids, c.ID)
				}
			}
			return invalidParam(fmt.Sprintf("messages.[%d].role", i),
				"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: "+strings.Join(ids, ", "))
		}
		i = j - 1
	}
	return nil
}

// wireToolCallDelta is a piece of a streamed tool call: the first piece of
// a call carries its id, type and name, the others only its index and
// some of its arguments.
type wireToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function wireFunctionDelta `json:"function"`
}

type wireFunctionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// wireAnswerCall is a tool call of a whole (not streamed) answer.
type wireAnswerCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// argumentPiece is the size, in runes, of the pieces a call's arguments
// are streamed in: about a token or two, as models stream them.
const argumentPiece = 8

// answerCalls are resp's calls with their ids and types as the server
// sends them: an id the responder left empty is chosen from the answer's
// id (completion), and none is sent with OmitToolCallIDs.
func answerCalls(completion string, resp Response) []ToolCall {
	calls := make([]ToolCall, len(resp.ToolCalls))
	for i, c := range resp.ToolCalls {
		if c.Type == "" {
			c.Type = "function"
		}
		if c.ID == "" {
			c.ID = fmt.Sprintf("call_%s_%d", strings.TrimPrefix(completion, "chatcmpl-"), i)
		}
		if resp.OmitToolCallIDs {
			c.ID = ""
		}
		calls[i] = c
	}
	return calls
}

// toolCallPieces are the streamed pieces of calls, in the order they are
// sent: each call's first piece (id, type, name, no arguments), then its
// arguments a few runes at a time; one call after the other, or, with
// interleave, a piece of each in turn.
func toolCallPieces(calls []ToolCall, interleave bool) []wireToolCallDelta {
	perCall := make([][]wireToolCallDelta, len(calls))
	for i, c := range calls {
		pieces := []wireToolCallDelta{{Index: i, ID: c.ID, Type: c.Type, Function: wireFunctionDelta{Name: c.Name}}}
		for _, a := range splitContent(c.Arguments, argumentPiece) {
			pieces = append(pieces, wireToolCallDelta{Index: i, Function: wireFunctionDelta{Arguments: a}})
		}
		perCall[i] = pieces
	}
	var out []wireToolCallDelta
	if !interleave {
		for _, pieces := range perCall {
			out = append(out, pieces...)
		}
		return out
	}
	for step := 0; ; step++ {
		sent := false
		for _, pieces := range perCall {
			if step < len(pieces) {
				out = append(out, pieces[step])
				sent = true
			}
		}
		if !sent {
			return out
		}
	}
}

// callsText is what calls cost in completion tokens: their names and
// arguments.
func callsText(calls []ToolCall) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(c.Name)
		b.WriteString(c.Arguments)
	}
	return b.String()
}

// truncateRunes cuts s to at most n runes, marking the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
