package reply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// A call of a tool that an MCP server's confirm list names is made only
// once a person allows it: the question shows in the card, with buttons
// (chat.Buttons), or, without one, as a message answered by \yes or \no.
// The asker decides; in a group with ADMIN_USERS set, an administrator
// does. The answer waits for the decision, looking for it in the bucket
// (Decisions) as it looks for \stop, at most CONFIRM_WAIT and within the
// function's time; what was decided reaches the model as the call's
// result, and is recorded with the round.

// DefaultConfirmWait is how long an answer waits for a decision on a call
// (CONFIRM_WAIT).
const DefaultConfirmWait = 60 * time.Second

// What the model reads of a call that was not made.
const (
	deniedResult   = "用户拒绝了这次工具调用，它没有执行。请不要再次尝试，直接告诉用户。"
	unheardResult  = "在规定时间内没有人允许这次工具调用，它没有执行。请告诉用户：如需执行，请重新提问并及时允许。"
	deniedOutcome  = "❌ 已拒绝"
	unheardOutcome = "⌛ 无人允许，未执行"
	tooLongOutcome = "⚠️ 参数太长，无法确认，未执行"
	tooLongResult  = "这次工具调用的参数太长，没法完整地给用户确认，所以没有执行。请用更短的参数重试，或告诉用户。"
	allowedOutcome = "✅ 已允许"
)

// questionCode names the question whose calls wait for a decision: a
// press on its card carries the card, which the card's record ties to the
// question, and \yes and \no name it by this code, which the question
// shows, so that a decision reaches that question's calls alone, never
// another's waiting in the same conversation.
func questionCode(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:])[:6]
}

// decisionKey is where the decisions on the calls of the question coded
// code, in conversation conversationID, are kept.
func decisionKey(conversationID, code string) string {
	return "decide\x00" + conversationID + "\x00" + code
}

// decider names who decided, by their staff id where DingTalk gives one
// (a card's press carries only that), else their sender id.
func decider(m chat.Message) string {
	if m.SenderStaffID != "" {
		return m.SenderStaffID
	}
	return m.SenderID
}

// deciders are who may allow the calls made for m: the asker, or in a
// group with administrators, they.
func (w *Writer) deciders(m chat.Message) []string {
	if m.IsGroup() && len(w.access.Admins) > 0 {
		return w.access.Admins
	}
	return []string{decider(m)}
}

// confirm asks whether the calls of uses that need it may be made and
// waits for the decision: allowed is true when they may.
func (w *Writer) confirm(ctx context.Context, j *job, calls []chat.ToolCall, uses []chat.ToolUse, draft chat.Draft) (allowed bool, outcome string, err error) {
	var asked strings.Builder
	for i, call := range calls {
		if !uses[i].Confirm {
			continue
		}
		// The decider must see what the call would do, whole: arguments
		// too long to show are not asked about, and the call is not
		// made.
		args := shownArguments(call.Arguments)
		if utf8.RuneCountInString(args) > maxShownArguments {
			j.log.WarnContext(ctx, "a tool call's arguments are too long to ask about: it is not made", "tool", uses[i].Label)
			return false, tooLongOutcome, nil
		}
		fmt.Fprintf(&asked, "%s\n```\n%s\n```\n", uses[i].Label, args)
	}
	wait := w.confirmWait
	if deadline, ok := ctx.Deadline(); ok {
		// An allowed call, and the model after it, need time too.
		wait = min(wait, time.Until(deadline)-afterDecision)
	}
	if wait < minConfirmWait {
		j.log.WarnContext(ctx, "too little of the function's time is left to ask whether a tool may be used: it is not made")
		return false, unheardOutcome, nil
	}
	who := "你"
	if j.m.IsGroup() && len(w.access.Admins) > 0 {
		who = "管理员"
	}
	code := questionCode(j.m.ID)
	question := fmt.Sprintf("🔧 大模型想使用工具：\n%s\n需要%s在 %d 秒内允许", asked.String(), who, int(wait.Seconds()))
	// Decisions are named by the millisecond they arrived in: one that
	// arrives in the question's own millisecond (as fast as only a
	// program answers) is after it too, and counts.
	since := w.now().Add(-time.Millisecond)
	card, buttons := draft.(chat.Buttons)
	if buttons {
		buttons = card.Ask(question + "：请点「允许」或「拒绝」。")
	}
	if !buttons {
		text := fmt.Sprintf("%s：回复 \\yes %s 允许，\\no %s 拒绝。", question, code, code)
		if err := w.outbox.Deliver(ctx, chat.Answer{To: j.m, Text: text}); err != nil {
			return false, "", &toolsFailed{retry.Mark(fmt.Errorf("ask whether a tool may be used: %w", err))}
		}
	}
	j.log.Log(ctx, logging.LevelNotice, "waiting for a decision on a tool call", "code", code, "wait", wait.String())
	allowed, decided, err := w.waitDecision(ctx, j, since, wait)
	switch {
	case err != nil:
		return false, "", err
	case allowed:
		outcome = allowedOutcome
	case decided:
		outcome = deniedOutcome
	default:
		outcome = unheardOutcome
	}
	if buttons {
		card.Asked(outcome)
	}
	j.log.Log(ctx, logging.LevelNotice, "tool call decided", "allowed", allowed, "decided", decided)
	return allowed, outcome, nil
}

// waitDecision looks for a decision on m's calls made since, every
// stopPoll, for at most wait; ctx ending (\stop, the function's time)
// ends the wait with its cause.
func (w *Writer) waitDecision(ctx context.Context, j *job, since time.Time, wait time.Duration) (allowed, decided bool, err error) {
	m := j.m
	timer := time.NewTimer(wait)
	defer timer.Stop()
	tick := time.NewTicker(w.stopPoll)
	defer tick.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return false, false, context.Cause(ctx)
		case <-timer.C:
			return false, false, nil
		case <-tick.C:
		}
		decided, approve, err := w.decisions.DecidedSince(ctx, decisionKey(m.ConversationID, questionCode(m.ID)), since, w.deciders(m))
		switch {
		case err != nil && ctx.Err() == nil && !warned:
			// A later look may see it.
			j.log.WarnContext(ctx, "could not look for a decision on a tool call", "err", err)
			warned = true
		case decided:
			return approve, true, nil
		}
	}
}

// notMade is what the model reads of a call that needed a person's
// decision and did not get a yes.
func notMade(outcome string) string {
	switch outcome {
	case deniedOutcome:
		return deniedResult
	case tooLongOutcome:
		return tooLongResult
	}
	return unheardResult
}

// maxShownArguments bounds the arguments a person is asked about.
const maxShownArguments = 1500

// afterDecision is the time an allowed call (at most the MCP client's 30 s)
// and the model after it need, which the wait for a decision leaves them;
// minConfirmWait the least wait worth asking a person for.
const (
	afterDecision  = 45 * time.Second
	minConfirmWait = 10 * time.Second
)

// shownArguments is a call's arguments as a person reads them: the JSON
// indented, in a code block whose fence no argument can close.
func shownArguments(arguments string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(arguments), "", "  "); err != nil {
		b.Reset()
		b.WriteString(arguments)
	}
	return strings.ReplaceAll(b.String(), "```", "`\u200b``")
}
