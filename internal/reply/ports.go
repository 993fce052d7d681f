package reply

import (
	"context"
	"os"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// The ports through which the service reaches the world, in its own terms.
// Each is implemented by the adapter named beside it and wired in cmd/reply.
// An adapter says that a failure is worth FC's retry with an error that
// retry.Retryable accepts.

// History is where the turns of each conversation are kept
// (bucket.History).
type History interface {
	Load(ctx context.Context, owner string, n int) ([]chat.Turn, error)
	Save(ctx context.Context, owner string, t chat.Turn) error
	Clear(ctx context.Context, owner string, at time.Time) error
}

// Receipts record what was done for each message (bucket.Receipts).
type Receipts interface {
	// Claim returns what has been done for m and, unless m is delivered
	// already, takes it for attempt a for lease, unless another live
	// attempt holds it: then it returns that holder.
	Claim(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) (rec chat.Receipt, holder chat.Attempt, claimed bool, err error)
	// Renew extends a's claim on m by lease from now; an error matching
	// chat.ErrNotHeld says that another attempt took m over.
	Renew(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) error
	// Holder returns what has been done for m and who holds it, if
	// anyone (a claim whose lease ran out holds nobody), without claiming
	// it.
	Holder(ctx context.Context, m chat.Message) (rec chat.Receipt, holder chat.Attempt, held bool, err error)
	Release(ctx context.Context, m chat.Message, a chat.Attempt) error
	SaveAnswer(ctx context.Context, m chat.Message, answer string) error
	MarkSent(ctx context.Context, m chat.Message, part int) error
	MarkDelivered(ctx context.Context, m chat.Message) error
}

// Settings keep what each conversation changed of the defaults: its system
// prompt and its model (bucket.Settings). key names the conversation
// with its type (prompter.settingsKey).
type Settings interface {
	Load(ctx context.Context, key chat.SettingsKey) (chat.Settings, error)
	SetSystem(ctx context.Context, key chat.SettingsKey, prompt string, reset bool) error
	SetModel(ctx context.Context, key chat.SettingsKey, model string) error
}

// Stops keep each asker's \stop requests (bucket.Stops). owner is the
// asker in a conversation (chat.Message.HistoryOwner).
type Stops interface {
	// Stop asks that owner's answers to questions sent before at end.
	Stop(ctx context.Context, owner string, at time.Time) error
	// StoppedSince reports whether owner asked for a stop after since.
	StoppedSince(ctx context.Context, owner string, since time.Time) (bool, error)
}

// Documents keep the text of the files each asker sent without a question,
// for the questions that follow (bucket.Documents). owner is the asker in
// a conversation (chat.Message.HistoryOwner).
type Documents interface {
	Keep(ctx context.Context, owner string, d chat.Document) error
	// Since returns owner's documents sent after since, oldest first, and
	// drops those sent before.
	Since(ctx context.Context, owner string, since time.Time) ([]chat.Document, error)
	// Take drops d, which a question took.
	Take(ctx context.Context, owner string, d chat.Document) error
	Clear(ctx context.Context, owner string) error
}

// Reader reads the text of the files users send (forked.Reader, each file
// in a child process; document.Reader in this one).
type Reader interface {
	// Readable reports whether a file of that name is of a kind Read
	// reads, before it is downloaded.
	Readable(name string) bool
	// Read returns the text of the file named name whose content is f, a
	// file on disk, and whether it is only the start of it. Its errors
	// match the kinds of package chat (chat.ErrFileCorrupt,
	// chat.ErrFileNoText, chat.ErrFileTooComplex...), or ctx's error
	// when ctx ended first.
	Read(ctx context.Context, name string, f *os.File) (text string, truncated bool, err error)
}

// Questions count each sender's answered questions, and their tokens, per
// day, and hold DAILY_LIMIT (bucket.Questions). day is yyyymmdd.
type Questions interface {
	Record(ctx context.Context, sender, day, message string, u chat.Usage) error
	Day(ctx context.Context, sender, day string) (chat.DayUsage, error)
	// Take gives message one of the limit slots of sender's day, across
	// instances: the one it holds already, else a free one; taken is
	// false when other messages hold them all.
	Take(ctx context.Context, sender, day, message string, limit int) (taken bool, err error)
	// GiveBack frees the slot message holds, for another question.
	GiveBack(ctx context.Context, sender, day, message string) error
	// Prune removes a little of what is kept of days long past, day
	// being today: called once per message, after its answer is out.
	Prune(ctx context.Context, day string) error
}

// Model answers a prompt (openai.Client). Its errors match the kinds of
// package chat (chat.ErrModelTimeout...) through errors.Is; what the
// provider said is in their text, for the log, never for the user.
type Model interface {
	Complete(ctx context.Context, p chat.Prompt) (chat.Completion, error)
	// Stream is Complete calling onDelta with the answer so far each time
	// it grows.
	Stream(ctx context.Context, p chat.Prompt, onDelta func(soFar string) error) (chat.Completion, error)
}

// Outbox delivers answers to the conversation a message came from
// (dingtalk.Outbox).
type Outbox interface {
	// Reachable says why no answer to m could reach its sender (a session
	// webhook the robot may not post to, one expired with no other way to
	// answer), or nil when one can: a message nobody can be answered on is
	// dropped before any work is done for it.
	Reachable(m chat.Message) error
	// Open starts showing the answer to m while the model writes it (an AI
	// card), or returns nil where the conversation cannot show one, for
	// this attempt at answering m.
	Open(ctx context.Context, m chat.Message, attempt chat.Attempt) chat.Draft
	// Recover finishes what the attempts before a, of a's invocation, may
	// have left unfinished when they died (an AI card still "typing").
	Recover(ctx context.Context, m chat.Message, a chat.Attempt)
	// Deliver delivers an answer, or what an earlier attempt left of it. A
	// failure that trying again cannot mend is an error retry.Retryable
	// does not accept; the answer is then lost, and the error says why.
	Deliver(ctx context.Context, a chat.Answer) error
	// ShowVotes shows everyone who sees the card cardID an answer's votes
	// so far (one metered OpenAPI call).
	ShowVotes(ctx context.Context, cardID string, likes, dislikes int) error
}

// Reactions put a "thinking" badge on the message being answered and take
// it off (dingtalk.Reactions).
type Reactions interface {
	Thinking(ctx context.Context, m chat.Message) error
	Done(ctx context.Context, m chat.Message) error
}

// Files downloads what users send the robot (dingtalk.Attachments).
type Files interface {
	// Download starts fetching the file that code names in m, at most
	// maxBytes of it: it returns once the host answered, with the size it
	// announced, and the body to read, which the caller closes. A file
	// announced larger is refused before any of it is read, and a body
	// that goes on past maxBytes fails its read; both are errors matching
	// chat.ErrFileTooLarge.
	Download(ctx context.Context, m chat.Message, code string, maxBytes int64) (chat.File, error)
}

// Tools are what the model may use while it answers (toolbox.Toolbox: web
// search, the tools of remote MCP servers).
type Tools interface {
	// Offer returns the tools offered to the model now, and a sentence
	// for each that is missing (a server that is down), which the model
	// is told so that it does not promise what it cannot do.
	Offer(ctx context.Context) (tools []chat.Tool, missing []string)
	// Describe says how call shows while it runs and what it may do.
	Describe(call chat.ToolCall) chat.ToolUse
	// Call makes call and returns what the model reads of it: a failure
	// is a result too, in words. It is bounded in time and size.
	Call(ctx context.Context, call chat.ToolCall) string
	// SearchFirst, when the model is not trusted with tools
	// (SEARCH_MODE=always), is the call that searches the question
	// before the model is asked; ok is false otherwise.
	SearchFirst(question string) (call chat.ToolCall, ok bool)
	// List says, a line each, what the model may use now, and what is
	// missing, for \tools.
	List(ctx context.Context) []string
}

// Decisions keep what people decided on the calls that wait for a yes
// (bucket.Decisions): one place per conversation, key, whoever decides.
type Decisions interface {
	// Decide keeps decider's decision, made at at.
	Decide(ctx context.Context, key, decider string, at time.Time, approve bool) error
	// DecidedSince reports the first decision made after since by one of
	// deciders; the others' are not counted.
	DecidedSince(ctx context.Context, key string, since time.Time, deciders []string) (decided, approve bool, err error)
}

// ToolLog keeps the tool rounds of each message's answer in the bucket,
// write-once, so that a retry, a twin or a takeover replays them instead
// of calling a tool again (bucket.Receipts).
type ToolLog interface {
	// RecordIntent keeps, before they are made, the calls of round n
	// that may change something. Only when ours is true may the caller
	// make them: else another attempt recorded round n's calls first, and
	// recorded are those.
	RecordIntent(ctx context.Context, m chat.Message, n int, calls []chat.ToolCall) (recorded []chat.ToolCall, ours bool, err error)
	// RecordRound keeps round n whole; if another attempt recorded it
	// first, it returns that one, which every attempt goes on from.
	RecordRound(ctx context.Context, m chat.Message, n int, r chat.ToolRound) (chat.ToolRound, error)
	// ToolRounds returns the rounds recorded for m, oldest first, and the
	// calls of the round after them whose intent was recorded and whose
	// outcome was not: an attempt died while making them.
	ToolRounds(ctx context.Context, m chat.Message) (rounds []chat.ToolRound, unfinished []chat.ToolCall, err error)
}

// Cards keep which message each card with buttons answers, so that a
// press, which names only the card, finds its question (bucket.Cards).
type Cards interface {
	Keep(ctx context.Context, cardID string, rec chat.CardRecord, at time.Time) error
	// Find returns the record of cardID, kept within the last days; an
	// unknown card is an error matching fs.ErrNotExist.
	Find(ctx context.Context, cardID string, now time.Time) (chat.CardRecord, error)
}

// Votes keep the 👍 and 👎 given to each answer, one per person
// (bucket.Votes); day is the answer's question's day (usageDay).
type Votes interface {
	// Vote counts voter's vote on the answer to messageID, unless they
	// voted on it before: counted is false then.
	Vote(ctx context.Context, day, messageID, voter string, like bool) (counted bool, err error)
	// Count is the day's votes; Tally an answer's.
	Count(ctx context.Context, day string) (likes, dislikes int, err error)
	Tally(ctx context.Context, day, messageID string) (likes, dislikes int, err error)
}

// Registrar makes sure DingTalk sends the presses of the robot's cards'
// buttons to url: the first time it is asked, it registers the URL once
// across instances (dingtalk.Registrar); then it does nothing.
type Registrar interface {
	Ensure(ctx context.Context, url string) error
}
