package chat

import "errors"

// Why a model gave no answer, in the robot's terms: each kind tells the user
// something different (wait, fix the key, top up the quota, rephrase, call
// the administrator). A model's adapter returns errors that match one kind
// through errors.Is, and the reply function words the kind for the user.
var (
	// ErrModelTimeout: no answer before the deadline.
	ErrModelTimeout = errors.New("the model did not answer in time")
	// ErrModelUnauthorized: the endpoint refused the API key.
	ErrModelUnauthorized = errors.New("the model endpoint refused the API key")
	// ErrModelRateLimited: too many requests, or an exhausted quota.
	ErrModelRateLimited = errors.New("the model endpoint is rate limiting requests")
	// ErrModelUnavailable: the endpoint failed, could not be reached, or
	// answered in a form that is not an answer.
	ErrModelUnavailable = errors.New("the model endpoint is unavailable")
	// ErrModelRejected: the endpoint refused the request itself (an
	// unknown model, a context that is too long...).
	ErrModelRejected = errors.New("the model endpoint rejected the request")
	// ErrModelEmptyAnswer: the model answered with no text.
	ErrModelEmptyAnswer = errors.New("the model returned an empty answer")
)

// Reasons that single out a rejection (they come with ErrModelRejected, so
// that a caller that does not know them still says the request was refused).
var (
	// ErrImagesRefused: the model cannot read pictures.
	ErrImagesRefused = errors.New("the model cannot read pictures")
	// ErrInvalidImages: the pictures cannot be sent (empty, not pictures,
	// or too large together); nothing was sent.
	ErrInvalidImages = errors.New("the pictures cannot be sent")
	// ErrContextTooLong: the prompt is longer than the model's context
	// window (OpenAI's context_length_exceeded, or another provider's
	// words for it).
	ErrContextTooLong = errors.New("the prompt exceeds the model's context window")
	// ErrModelUnknown: the endpoint knows no model of that name, or not
	// for this key.
	ErrModelUnknown = errors.New("the model endpoint does not know the model")
	// ErrToolsRefused: the endpoint refused the request's tools or tool
	// rounds (a model that cannot call tools, a tool it will not take, a
	// thinking model whose reasoning did not come back with its calls):
	// the question can still be answered without tools.
	ErrToolsRefused = errors.New("the model cannot call the tools")
)

// Usage is what one answer cost in tokens, as the model reported it.
type Usage struct {
	Prompt     int `json:"prompt"`
	Completion int `json:"completion"`
}

// Completion is a model's answer and what it cost.
type Completion struct {
	Text  string
	Usage Usage
	// ToolCalls, when there are any, are what the model asks for before it
	// answers: Text is then what it wrote with them, not an answer.
	ToolCalls []ToolCall
	// Reasoning is what a thinking model reasoned (DeepSeek's
	// reasoning_content), kept to send back with its tool calls.
	Reasoning string
}

// DayUsage is what one sender asked in a day: the questions the model
// answered and their tokens, and the questions that took one of the day's
// DAILY_LIMIT slots (answered, or being answered).
type DayUsage struct {
	Questions  int
	Prompt     int
	Completion int
	Taken      int
}
