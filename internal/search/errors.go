package search

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// The kinds of failure of a search, for errors.Is: each *Error has one.
var (
	// ErrUnauthorized: the service refused the API key (SEARCH_API_KEY).
	ErrUnauthorized = errors.New("the search service refused the API key")
	// ErrRateLimited: too many searches, or the account is out of credit
	// (then Reason is ErrOutOfCredit).
	ErrRateLimited = errors.New("the search service is rate limiting searches")
	// ErrUnavailable: the service failed, could not be reached, did not
	// answer in time (then Reason is ErrTimeout), or answered something
	// that is not its API's answer.
	ErrUnavailable = errors.New("the search service is unavailable")
	// ErrBadQuery: the service refused the query itself, or there was no
	// query to send.
	ErrBadQuery = errors.New("the search service refused the query")
)

// Reasons that single out a failure within its kind.
var (
	// ErrOutOfCredit comes with ErrRateLimited: the account's balance,
	// plan or pay-as-you-go limit is used up. Waiting does not help;
	// the operator must top up.
	ErrOutOfCredit = errors.New("the search account is out of credit")
	// ErrTimeout comes with ErrUnavailable: no answer before the deadline.
	ErrTimeout = errors.New("the search service did not answer in time")
)

// Error is a failed search.
type Error struct {
	// Provider is "bocha" or "tavily".
	Provider string
	// Kind is ErrUnauthorized, ErrRateLimited, ErrUnavailable or ErrBadQuery.
	Kind error
	// Reason, when not nil, is ErrOutOfCredit or ErrTimeout.
	Reason error
	// StatusCode is the HTTP status of the answer, 0 when there was none.
	StatusCode int
	// Code is the error code the service put in its body (Bocha's "code"),
	// 0 when there was none.
	Code int
	// Message is what the service said, or what went wrong on the way. It
	// never holds the API key, and is bounded in length.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("search: ")
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.Error())
	if e.Reason != nil {
		b.WriteString(": ")
		b.WriteString(e.Reason.Error())
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Code != 0 && e.Code != e.StatusCode {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns Kind and Reason, so that errors.Is sees both.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Reason}
}

// maxMessageBytes bounds a service's message: a gateway in front of it may
// answer with a whole HTML page.
const maxMessageBytes = 300

// scrub removes the API key from a service's message, makes it one line of
// valid UTF-8 and bounds its length.
func scrub(msg, apiKey string) string {
	msg = redact.String(msg, apiKey)
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "")), " ")
	return truncateBytes(msg, maxMessageBytes)
}

// truncateBytes cuts s to at most n bytes on a rune boundary, marking the
// cut with an ellipsis.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
