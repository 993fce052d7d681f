package reply

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// A feature a deployment does without (no VISION_MODEL, no store for
// \stop, no badge...) is a port that says it is off: each part's
// constructor puts one in for every optional port left nil (orOff), so
// that the steps call the port and ask
// offered where a feature shows (a command in \help, a watch to start),
// never test for nil.

// switchedOff marks a port that stands for a feature the deployment does
// without.
type switchedOff interface{ off() }

// offered reports whether port is a real one, not one that says "off".
func offered(port any) bool {
	_, off := port.(switchedOff)
	return !off
}

// errOff is what an off port answers the calls that nothing makes while
// its feature is off (its command is not offered).
var errOff = errors.New("reply: this feature is off in this deployment")

// noSettings: no \system, no \model; every conversation has the defaults.
type noSettings struct{}

func (noSettings) off() {}
func (noSettings) Load(context.Context, chat.SettingsKey) (chat.Settings, error) {
	return chat.Settings{}, nil
}
func (noSettings) SetSystem(context.Context, chat.SettingsKey, string, bool) error { return errOff }
func (noSettings) SetModel(context.Context, chat.SettingsKey, string) error        { return errOff }

// noStops: no \stop, and nothing to look for while an answer is written.
type noStops struct{}

func (noStops) off()                                                          {}
func (noStops) Stop(context.Context, string, time.Time) error                 { return errOff }
func (noStops) StoppedSince(context.Context, string, time.Time) (bool, error) { return false, nil }

// noQuestions counts nothing: no \usage, and no DAILY_LIMIT (NewControl sets
// it to 0, since nothing could hold it).
type noQuestions struct{}

func (noQuestions) off()                                                             {}
func (noQuestions) Record(context.Context, string, string, string, chat.Usage) error { return nil }
func (noQuestions) Day(context.Context, string, string) (chat.DayUsage, error) {
	return chat.DayUsage{}, nil
}
func (noQuestions) Take(context.Context, string, string, string, int) (bool, error) { return true, nil }
func (noQuestions) GiveBack(context.Context, string, string, string) error          { return nil }
func (noQuestions) Prune(context.Context, string) error                             { return nil }

// noReactions: no thinking badge (THINKING_REACTION off, or no OpenAPI).
type noReactions struct{}

func (noReactions) off()                                         {}
func (noReactions) Thinking(context.Context, chat.Message) error { return nil }
func (noReactions) Done(context.Context, chat.Message) error     { return nil }

// noDocuments keeps no file for a next question.
type noDocuments struct{}

func (noDocuments) off()                                              {}
func (noDocuments) Keep(context.Context, string, chat.Document) error { return errOff }
func (noDocuments) Since(context.Context, string, time.Time) ([]chat.Document, error) {
	return nil, nil
}
func (noDocuments) Take(context.Context, string, chat.Document) error { return nil }
func (noDocuments) Clear(context.Context, string) error               { return nil }

// noReader reads no file.
type noReader struct{}

func (noReader) off()                 {}
func (noReader) Readable(string) bool { return false }
func (noReader) Read(context.Context, string, *os.File) (string, bool, error) {
	return "", false, errOff
}

// noFiles downloads nothing (no AppKey for DingTalk's OpenAPI).
type noFiles struct{}

func (noFiles) off() {}
func (noFiles) Download(context.Context, chat.Message, string, int64) (chat.File, error) {
	return chat.File{}, errOff
}

// noVision looks at no picture (no VISION_MODEL).
type noVision struct{}

func (noVision) off() {}
func (noVision) Complete(context.Context, chat.Prompt) (chat.Completion, error) {
	return chat.Completion{}, errOff
}
func (noVision) Stream(context.Context, chat.Prompt, func(string) error) (chat.Completion, error) {
	return chat.Completion{}, errOff
}

// orOff is port, or, when the deployment left it nil, off: the port that
// says the feature is off.
func orOff[P any](port, off P) P {
	if any(port) == nil {
		return off
	}
	return port
}

// orNow is now, or time.Now when nil.
func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// readsFiles reports whether files sent are read: it takes a reader, a
// way to download them, and a store to keep them in.
func (s *Prompter) readsFiles() bool {
	return offered(s.reader) && offered(s.downloads) && offered(s.documents)
}

// seesPictures reports whether pictures sent go to a vision model.
func (s *Prompter) seesPictures() bool {
	return offered(s.visionModel) && offered(s.downloads)
}

// noTools: the model has no hands; \tools says so.
type noTools struct{}

func (noTools) off()                                          {}
func (noTools) Offer(context.Context) ([]chat.Tool, []string) { return nil, nil }
func (noTools) Describe(chat.ToolCall) chat.ToolUse           { return chat.ToolUse{ReadOnly: true} }
func (noTools) Call(context.Context, chat.ToolCall) string    { return errOff.Error() }
func (noTools) SearchFirst(string) (chat.ToolCall, bool)      { return chat.ToolCall{}, false }
func (noTools) List(context.Context) []string                 { return nil }

// unrecorded keeps no tool round: each attempt makes its own calls. Only
// tests go without a ToolLog; cmd/reply always has one.
type unrecorded struct{}

func (unrecorded) RecordIntent(_ context.Context, _ chat.Message, _ int, calls []chat.ToolCall) ([]chat.ToolCall, bool, error) {
	return calls, true, nil
}
func (unrecorded) RecordRound(_ context.Context, _ chat.Message, _ int, r chat.ToolRound) (chat.ToolRound, error) {
	return r, nil
}
func (unrecorded) ToolRounds(context.Context, chat.Message) ([]chat.ToolRound, []chat.ToolCall, error) {
	return nil, nil, nil
}

// noDecisions: no call that waits for a yes ever gets one.
type noDecisions struct{}

func (noDecisions) off()                                                          {}
func (noDecisions) Decide(context.Context, string, string, time.Time, bool) error { return errOff }
func (noDecisions) DecidedSince(context.Context, string, time.Time, []string) (bool, bool, error) {
	return false, false, nil
}

// noCards: no card has buttons; a press finds no card.
type noCards struct{}

func (noCards) off()                                                           {}
func (noCards) Keep(context.Context, string, chat.CardRecord, time.Time) error { return nil }
func (noCards) Find(context.Context, string, time.Time) (chat.CardRecord, error) {
	return chat.CardRecord{}, fs.ErrNotExist
}

// noVotes: no votes, no \feedback.
type noVotes struct{}

func (noVotes) off() {}
func (noVotes) Vote(context.Context, string, string, string, bool) (bool, error) {
	return false, errOff
}
func (noVotes) Count(context.Context, string) (int, int, error)         { return 0, 0, errOff }
func (noVotes) Tally(context.Context, string, string) (int, int, error) { return 0, 0, errOff }

// noRegistrar: the cards have no buttons to register.
type noRegistrar struct{}

func (noRegistrar) off()                                 {}
func (noRegistrar) Ensure(context.Context, string) error { return nil }
