package chat

import (
	"encoding/json"
	"errors"
)

// Tool is something the model may ask the robot to do while it answers: a
// web search, or a tool of a remote MCP server.
type Tool struct {
	// Name is how the model calls it: 1 to 64 of [a-zA-Z0-9_-], as the
	// OpenAI-compatible APIs require of a function's name.
	Name        string
	Description string
	// Parameters is the JSON Schema of a call's arguments (an object); nil
	// means the tool takes none.
	Parameters json.RawMessage
	// Builtin marks a tool the provider runs itself (Moonshot's
	// $web_search): it is offered as a "builtin_function", and a call's
	// arguments go back, unchanged, as its result.
	Builtin bool
}

// ToolCall is the model asking for one tool.
type ToolCall struct {
	// ID ties the call to its result; the model chose it.
	ID   string
	Name string
	// Arguments is the JSON object the model wrote, as it wrote it.
	Arguments string
}

// ToolResult is what one call gave, as the model reads it: a tool's error
// is a result too, in words.
type ToolResult struct {
	CallID  string
	Name    string
	Content string
}

// ToolRound is one turn in which the model asked for tools, and what they
// gave: the model reads every earlier round of the question before it
// writes again.
type ToolRound struct {
	// Text is what the model wrote with its calls (often nothing).
	Text string
	// Reasoning is the reasoning it gave with them (DeepSeek's
	// reasoning_content), which thinking models want back.
	Reasoning string
	Calls     []ToolCall
	// Results hold one result per call, in the calls' order.
	Results []ToolResult
}

// ErrToolRecord says that the record of a message's tool rounds cannot be
// used as it is: a round is missing before a recorded one, or a record is
// torn, too large, of an unknown version, or was written for another
// message or conversation (a forged body reusing the message id). Unlike a
// passing failure of the store, trying again does not mend it.
var ErrToolRecord = errors.New("tool record unusable")

// ToolUse is how a call shows and what it may do.
type ToolUse struct {
	// Status shows in a card while the call runs ("🔍 正在搜索：…").
	Status string
	// Label names the tool for a person ("docs.create_ticket").
	Label string
	// ReadOnly: the call changes nothing. One that may change something
	// is recorded before it is made, so that it is never made twice.
	ReadOnly bool
	// Confirm: a person must allow the call before it is made (an MCP
	// server's confirm list).
	Confirm bool
}
