package reply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// The model's hands: while it answers, the model may ask for tools (a web
// search, a remote MCP server's tool); the writer makes the calls and asks
// it again with their results, round after round, until it answers.
//
// Each call is made once per message. FC delivers an event at least once
// and retries a failed attempt, and an instance may die after a tool ran:
// every round is recorded in the bucket (ToolLog), write-once under the
// message, before the model reads it, and a retry, a twin or a takeover
// replays the recorded rounds instead of asking for them again. A call that
// may change something is recorded before it is made too: one recorded
// without an outcome (the instance died during it) is never made again,
// and the model is told its outcome is unknown. A round of read-only calls
// costs one write to the bucket; one with other calls, two.

// DefaultMaxToolRounds is how many rounds of tools the model may ask for
// before it must answer (MAX_TOOL_ROUNDS).
const DefaultMaxToolRounds = 5

// unknownOutcome is the result of a call that an earlier attempt at the
// message was making when it died: it is not made again.
const unknownOutcome = "这个工具调用的结果未知：上一次处理这条消息时，调用进行中服务中断了。为避免重复执行，没有再次调用。请据此回答，需要时请用户自行核实。"

// lastRoundNote tells the model, asked once more after its last round of
// tools, that it must now answer.
const lastRoundNote = "（工具调用次数已用完：请根据已有的信息直接回答。）"

// toolsUsedUp answers a model that asked for tools again after its last
// round, and wrote nothing else.
const toolsUsedUp = "抱歉，大模型用完了这次能调用工具的次数，还是没有给出回答。请把问题拆小一些再试。"

// searchFirstID is the id of the call SEARCH_MODE=always makes before the
// model is asked: its round is recorded like the others, and its result
// goes before the question, as context, instead of as a tool message,
// since a model that cannot call tools may refuse those.
const searchFirstID = "search_first"

// conversation is how the model's answer came about.
type conversation struct {
	// p is the prompt of the last request.
	p chat.Prompt
	// c is the model's answer, with what every round cost.
	c chat.Completion
	// written is what the model wrote of its answer, for one cut short.
	written string
	// cause is why the last request ended, when it did not end by
	// itself: errSilent, errOutOfTime, errStopped.
	cause error
	// rounds counts the tool rounds the answer took.
	rounds int
	// earlier is what the requests before the last reported they cost,
	// last what the last did (nothing when it failed or reports none).
	earlier, last chat.Usage
}

// sum is what u and v cost together.
func sum(u, v chat.Usage) chat.Usage {
	return chat.Usage{Prompt: u.Prompt + v.Prompt, Completion: u.Completion + v.Completion}
}

// converse asks model p, for j's message, until it answers: each round in
// which it asks for tools, the calls are made (or replayed) and recorded,
// and it is asked again with their results, at most maxToolRounds times.
// ctx bounds the whole (the function's time, \stop); each request has its
// own bound on the model's silence. window is MAX_CONTEXT_TOKENS.
func (w *Writer) converse(ctx context.Context, j *job, model Model, p chat.Prompt, window int, draft chat.Draft) (conversation, error) {
	cv := conversation{p: p}
	recorded, err := w.recordedRounds(ctx, j)
	if err != nil {
		return cv, err
	}
	offset := 0
	if call, ok := w.tools.SearchFirst(j.m.Text); ok {
		call.ID = searchFirstID
		if len(recorded) == 0 {
			r, err := w.makeRound(ctx, j, 0, chat.Completion{ToolCalls: []chat.ToolCall{call}}, draft)
			if err != nil {
				return cv, err
			}
			recorded = append(recorded, r)
		}
		if first := recorded[0]; len(first.Calls) == 1 && first.Calls[0].ID == searchFirstID && len(first.Results) == 1 {
			p.Question = "<web_search>\n" + first.Results[0].Content + "\n</web_search>\n\n" + p.Question
			offset = 1
		}
	}
	tools, missing := w.tools.Offer(ctx)
	if len(missing) > 0 {
		p.System = strings.TrimSpace(p.System + "\n\n" + strings.Join(missing, "\n"))
	}
	var used chat.Usage
	// handless is set once the model refused its tools: it is asked
	// without them, and without the rounds, which it may refuse too.
	handless := false
	for n := len(recorded); ; n++ {
		ask := p
		ask.Rounds = recorded[offset:]
		ask.Tools = tools
		if handless {
			ask.Rounds, ask.Tools = nil, nil
		}
		last := n-offset >= w.maxToolRounds
		if last && len(ask.Rounds) > 0 {
			ask.Tools = nil
			ask.System = strings.TrimSpace(ask.System + "\n\n" + lastRoundNote)
		}
		if window > 0 && len(ask.Tools)+len(ask.Rounds) > 0 {
			// The tools, and what they gave, take room in the window
			// too: the history gives way first, then the results.
			if dropped, _ := ask.Fit(window); dropped > 0 {
				j.log.InfoContext(ctx, "history turns left out to make room for the tools", "dropped", dropped)
			}
			if cuts := ask.FitRounds(window); cuts > 0 {
				j.log.WarnContext(ctx, "tool results cut to fit the context window", "cuts", cuts)
			}
		}
		cv.p = ask
		c, written, cause, err := w.request(ctx, j, model, &ask, draft)
		cv.p.History = ask.History
		p.History = ask.History
		cv.earlier, cv.last = used, c.Usage
		used = sum(used, c.Usage)
		cv.c, cv.written, cv.cause = c, written, cause
		cv.c.Usage = used
		switch {
		case errors.Is(err, chat.ErrToolsRefused) && !handless:
			j.log.WarnContext(ctx, "the model refused its tools: asking it again without them", "err", err)
			handless = true
			n--
			continue
		case err != nil:
			return cv, err
		case len(c.ToolCalls) == 0:
			return cv, nil
		case len(ask.Tools) == 0:
			// Asked without tools, it asked for some all the same: what
			// it wrote is its answer.
			j.log.WarnContext(ctx, "the model asked for tools when none were offered", "calls", len(c.ToolCalls))
			if strings.TrimSpace(c.Text) == "" {
				cv.c.Text = toolsUsedUp
			}
			return cv, nil
		}
		r, err := w.makeRound(ctx, j, n, c, draft)
		if err != nil {
			cv.cause = context.Cause(ctx)
			return cv, err
		}
		recorded = append(recorded, r)
		cv.rounds++
	}
}

// request is one request to the model, streamed, with its own bound on
// the model's silence; a prompt the model finds too long is asked again
// once with the newer half of its history.
func (w *Writer) request(ctx context.Context, j *job, model Model, p *chat.Prompt, draft chat.Draft) (chat.Completion, string, error, error) {
	askCtx, heard, unlisten := w.watchSilence(ctx)
	defer unlisten()
	c, written, err := w.complete(askCtx, model, *p, draft, heard)
	if errors.Is(err, chat.ErrContextTooLong) && len(p.History) > 0 {
		// The estimate was too low for this model's tokenizer: once more
		// with the newer half of the history.
		kept := p.History[(len(p.History)+1)/2:]
		j.log.WarnContext(ctx, "the model refused the prompt as too long: asking again with half the history", "historyTurns", len(p.History), "kept", len(kept))
		p.History = kept
		c, written, err = w.complete(askCtx, model, *p, draft, heard)
	}
	return c, written, context.Cause(askCtx), err
}

// makeRound makes the calls the model asked for in c, round n of j's
// message, and records them: the round recorded first (by this attempt or
// another) is the one every attempt goes on from.
func (w *Writer) makeRound(ctx context.Context, j *job, n int, c chat.Completion, draft chat.Draft) (chat.ToolRound, error) {
	r := chat.ToolRound{Text: c.Text, Reasoning: c.Reasoning, Calls: c.ToolCalls}
	statuses := make([]string, 0, len(r.Calls))
	uses := make([]chat.ToolUse, len(r.Calls))
	asks := false
	for i, call := range r.Calls {
		uses[i] = w.tools.Describe(call)
		if s := uses[i].Status; s != "" && !slices.Contains(statuses, s) {
			statuses = append(statuses, s)
		}
		asks = asks || uses[i].Confirm
	}
	allowed, outcome := true, ""
	if asks {
		var err error
		if allowed, outcome, err = w.confirm(ctx, j, r.Calls, uses, draft); err != nil {
			return r, err
		}
	}
	// changes: a call that may change something will be made (a call to
	// confirm that was not allowed is not).
	changes := false
	for i := range r.Calls {
		changes = changes || (!uses[i].ReadOnly && (allowed || !uses[i].Confirm))
	}
	if changes && j.hold != nil {
		// Only the holder of the message makes such calls: one whose
		// claim another attempt took over leaves them to it.
		if err := j.hold.confirm(ctx); err != nil {
			return r, err
		}
	}
	if changes {
		kept, ours, err := w.toolLog.RecordIntent(ctx, j.m, n, r.Calls)
		if err != nil {
			return r, recordFailure("record the tool calls about to be made", err)
		}
		if !ours {
			// Another attempt recorded this round's calls first, and
			// made them, or is making them: never again from here.
			j.log.WarnContext(ctx, "another attempt recorded this round's tool calls first: their outcome is unknown here", "round", n)
			return w.recordRound(ctx, j, n, unknownRound(r, kept))
		}
	}
	if draft != nil && len(statuses) > 0 {
		draft.Show(strings.Join(statuses, "\n"))
	}
	r.Results = make([]chat.ToolResult, len(r.Calls))
	var wg sync.WaitGroup
	for i, call := range r.Calls {
		if uses[i].Confirm && !allowed {
			r.Results[i] = chat.ToolResult{CallID: call.ID, Name: call.Name, Content: notMade(outcome)}
			continue
		}
		wg.Go(func() {
			r.Results[i] = chat.ToolResult{CallID: call.ID, Name: call.Name, Content: w.tools.Call(ctx, call)}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Stopped, or out of time: what the calls gave is not kept, and
		// a call that may have changed something is known to have been
		// tried.
		return r, context.Cause(ctx)
	}
	j.log.Log(ctx, logging.LevelNotice, "tools called", "round", n, "calls", toolNames(r.Calls))
	return w.recordRound(ctx, j, n, r)
}

// recordRound records round n of j's message and returns the round that
// holds.
func (w *Writer) recordRound(ctx context.Context, j *job, n int, r chat.ToolRound) (chat.ToolRound, error) {
	kept, err := w.toolLog.RecordRound(ctx, j.m, n, r)
	if err != nil {
		return r, recordFailure("record a round of tool calls", err)
	}
	return kept, nil
}

// recordFailure is the error of a failure to record or read tool rounds
// while doing what: FC's retry may mend the bucket's failure, never a
// record that is broken (chat.ErrToolRecord).
func recordFailure(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, chat.ErrToolRecord) {
		return err
	}
	return &toolsFailed{retry.Mark(err)}
}

// toolsFailed is a failure on the tools' way that is not the model's (the
// bucket's record, asking a person): one that FC's retry may mend is
// handed to it, never told to the user as the model's failure.
type toolsFailed struct{ err error }

func (e *toolsFailed) Error() string { return e.err.Error() }
func (e *toolsFailed) Unwrap() error { return e.err }

// recordedRounds returns the tool rounds earlier attempts recorded for j's
// message, the last one finished (with unknown outcomes) when an attempt
// died during its calls.
func (w *Writer) recordedRounds(ctx context.Context, j *job) ([]chat.ToolRound, error) {
	if j.toolRounds == 0 {
		return nil, nil
	}
	rounds, unfinished, err := w.toolLog.ToolRounds(ctx, j.m)
	if err != nil {
		return nil, recordFailure("read the tool rounds recorded for the message", err)
	}
	if len(unfinished) > 0 {
		r, err := w.recordRound(ctx, j, len(rounds), unknownRound(chat.ToolRound{}, unfinished))
		if err != nil {
			return nil, err
		}
		rounds = append(rounds, r)
	}
	j.log.InfoContext(ctx, "replaying the tool rounds an earlier attempt recorded", "rounds", len(rounds), "unfinished", len(unfinished))
	return rounds, nil
}

// unknownRound is round r with calls, made by an attempt that died: the
// model reads that their outcome is unknown.
func unknownRound(r chat.ToolRound, calls []chat.ToolCall) chat.ToolRound {
	r.Calls = calls
	r.Results = make([]chat.ToolResult, len(calls))
	for i, call := range calls {
		r.Results[i] = chat.ToolResult{CallID: call.ID, Name: call.Name, Content: unknownOutcome}
	}
	return r
}

func toolNames(calls []chat.ToolCall) []string {
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Name
	}
	return names
}
