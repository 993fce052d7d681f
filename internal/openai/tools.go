package openai

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// toolName is what the OpenAI-compatible APIs take as a function's name
// (docs/protocols.md §14). A builtin's name ($web_search) is the
// provider's own and is sent as it is.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// builtinType is the type Moonshot gives the tools it runs itself.
const builtinType = "builtin_function"

// noParameters is the schema of a function that takes no arguments: some
// providers refuse a function without parameters, none refuses this.
var noParameters = json.RawMessage(`{"type":"object","properties":{}}`)

// emptyArguments stands for arguments a model left empty: a call's
// arguments go back to the provider with the call, and providers want a
// JSON object there.
const emptyArguments = "{}"

// emptyResult stands for a tool's result that is empty: providers refuse
// a tool message without content, and go-openai leaves an empty content
// out of the message.
const emptyResult = "(no output)"

// wireTool is one entry of a request's tools. go-openai's Tool is not
// used: its FunctionDefinition always writes "parameters" (null when
// there are none), and Moonshot's builtin is documented as the name alone.
type wireTool struct {
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// toolsJSON is the request's "tools" array, nil when there are none: some
// providers refuse an empty array, so the key is then left out. A tool no
// provider would take (a function name outside ^[a-zA-Z0-9_-]{1,64}$,
// parameters that are not a JSON object) is refused here, as the provider
// would refuse it, and nothing is sent.
func toolsJSON(tools []chat.Tool) (json.RawMessage, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	wire := make([]wireTool, 0, len(tools))
	seen := make(map[string]bool, len(tools))
	for i, t := range tools {
		if seen[t.Name] {
			return nil, toolsRefused("tool %d of %d: the name %q is offered twice", i+1, len(tools), t.Name)
		}
		seen[t.Name] = true
		if t.Builtin {
			if t.Name == "" {
				return nil, toolsRefused("tool %d of %d: a builtin tool has no name", i+1, len(tools))
			}
			wire = append(wire, wireTool{Type: builtinType, Function: wireFunction{Name: t.Name}})
			continue
		}
		if !toolName.MatchString(t.Name) {
			return nil, toolsRefused("tool %d of %d: the name %q is not 1 to 64 of a-z, A-Z, 0-9, _ and -", i+1, len(tools), t.Name)
		}
		params := noParameters
		if len(t.Parameters) > 0 {
			var object map[string]json.RawMessage
			if err := json.Unmarshal(t.Parameters, &object); err != nil || object == nil {
				return nil, toolsRefused("tool %q: its parameters are not a JSON Schema object", t.Name)
			}
			params = t.Parameters
		}
		wire = append(wire, wireTool{Type: string(goopenai.ToolTypeFunction), Function: wireFunction{Name: t.Name, Description: t.Description, Parameters: params}})
	}
	b, err := json.Marshal(wire)
	if err != nil {
		return nil, toolsRefused("the tools cannot be written as JSON: %v", err)
	}
	return b, nil
}

// toolsRefused is the error of tools the client will not send.
func toolsRefused(format string, args ...any) error {
	return &Error{Kind: chat.ErrModelRejected, Reason: chat.ErrToolsRefused, Message: fmt.Sprintf(format, args...)}
}

// roundMessages are the messages of the question's tool rounds, which
// follow it: for each round, the assistant message with its calls (its
// text, and its reasoning, which DeepSeek in thinking mode refuses to go
// without), then one tool message per call, in the calls' order. A round
// without calls is left out: nothing in it asks for an answer.
func roundMessages(rounds []chat.ToolRound, tools []chat.Tool) ([]goopenai.ChatCompletionMessage, error) {
	builtin := make(map[string]bool)
	for _, t := range tools {
		if t.Builtin {
			builtin[t.Name] = true
		}
	}
	var msgs []goopenai.ChatCompletionMessage
	for r, round := range rounds {
		if len(round.Calls) == 0 {
			continue
		}
		results := make(map[string]chat.ToolResult, len(round.Results))
		for _, res := range round.Results {
			results[res.CallID] = res
		}
		calls := make([]goopenai.ToolCall, 0, len(round.Calls))
		answers := make([]goopenai.ChatCompletionMessage, 0, len(round.Calls))
		for _, c := range round.Calls {
			if c.ID == "" || c.Name == "" {
				return nil, &Error{Kind: chat.ErrModelRejected, Message: fmt.Sprintf("tool round %d: a call has no id or no name", r+1)}
			}
			res, ok := results[c.ID]
			if !ok {
				return nil, &Error{Kind: chat.ErrModelRejected, Message: fmt.Sprintf("tool round %d: the call %s (%s) has no result", r+1, c.ID, c.Name)}
			}
			args := c.Arguments
			if strings.TrimSpace(args) == "" {
				args = emptyArguments
			}
			// A builtin's call goes back as the provider's own kind, as
			// Moonshot's examples send back the message it answered with.
			// Only a builtin's name can start with $: a function's cannot.
			callType := goopenai.ToolTypeFunction
			if builtin[c.Name] || strings.HasPrefix(c.Name, "$") {
				callType = builtinType
			}
			calls = append(calls, goopenai.ToolCall{ID: c.ID, Type: callType, Function: goopenai.FunctionCall{Name: c.Name, Arguments: args}})
			content := res.Content
			if content == "" {
				content = emptyResult
			}
			answers = append(answers, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleTool, ToolCallID: c.ID, Content: content})
		}
		// An empty content is left out of the message (go-openai's
		// omitempty): the API takes an assistant message with tool calls
		// and no content.
		msgs = append(msgs, goopenai.ChatCompletionMessage{
			Role:             goopenai.ChatMessageRoleAssistant,
			Content:          round.Text,
			ReasoningContent: round.Reasoning,
			ToolCalls:        calls,
		})
		msgs = append(msgs, answers...)
	}
	return msgs, nil
}
