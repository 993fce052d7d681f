package reply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// A sender's day is a day in Asia/Shanghai, where DingTalk's users are:
// UTC+8 all year, so a fixed zone needs no time zone database.
func shanghai() *time.Location { return time.FixedZone("CST", 8*60*60) }

// usageDay is the day a question received at counts in, and when the next
// one begins.
func usageDay(at time.Time) (day string, next time.Time) {
	local := at.In(shanghai())
	y, mo, d := local.Date()
	return local.Format("20060102"), time.Date(y, mo, d+1, 0, 0, 0, 0, shanghai())
}

// receivedAt is when the conversation function received j's message
// (chat.Event.ReceivedAt), the instant its day is counted by: the body's
// createAt is whatever a forged callback says (docs/threat-model.md), so
// rotating it would rotate the day. FC hands a retry the same event, so a
// message counts in one day however often it is delivered. An event
// without one (from an older conversation function) counts now.
func (s *Control) receivedAt(j *job) time.Time {
	if j.received.IsZero() {
		return s.now()
	}
	return j.received
}

// usageSender is whose questions m counts among: the staff id, which is the
// same in every conversation, else DingTalk's sender id.
func usageSender(m chat.Message) string {
	if m.SenderStaffID != "" {
		return "staff\x00" + m.SenderStaffID
	}
	return "sender\x00" + m.SenderID
}

// countDay starts reading the day of j's sender, for a file (which takes
// no slot, but is refused past the limit like a question), or returns nil
// when nothing needs reading.
func (s *Control) countDay(ctx context.Context, j *job) *pending[chat.DayUsage] {
	if j.m.File == nil {
		return nil
	}
	day, _ := usageDay(s.receivedAt(j))
	return begin(ctx, func(ctx context.Context) (chat.DayUsage, error) {
		return s.questions.Day(ctx, usageSender(j.m), day)
	})
}

// overLimit says, when j's sender reached DAILY_LIMIT today, what to tell
// them; else "". A question takes one of the day's DAILY_LIMIT slots
// before the model is asked, so that however many come at once, on
// however many instances, no more than the limit are asked; its slot is
// given back if no answer comes of it (giveBack). A day that cannot be
// read lets the question through: a limit is worth less than an answer
// lost to a passing failure.
func (s *Control) overLimit(ctx context.Context, j *job) string {
	if s.dailyLimit <= 0 || s.access.admin(j.m) {
		return ""
	}
	day, next := usageDay(s.receivedAt(j))
	if j.m.File != nil {
		d, err := j.usage.wait(ctx)
		if err != nil {
			j.log.WarnContext(ctx, "could not read the sender's questions today: not limiting this file", "err", err)
			return ""
		}
		if max(d.Taken, d.Questions) < s.dailyLimit {
			return ""
		}
	} else {
		taken, err := s.questions.Take(ctx, usageSender(j.m), day, j.m.ID, s.dailyLimit)
		if err != nil {
			j.log.WarnContext(ctx, "could not take one of the day's questions: not limiting this one", "err", err)
			return ""
		}
		if taken {
			j.slot = true
			return ""
		}
	}
	j.log.InfoContext(ctx, "the sender reached the daily limit", "limit", s.dailyLimit, "day", day)
	return fmt.Sprintf("抱歉，你今天已经问了 %d 个问题，达到了每日 %d 个的上限。额度在 %s（北京时间）重置。",
		s.dailyLimit, s.dailyLimit, next.Format("1月2日 15:04"))
}

// giveBack frees the slot j took when no answer came of it (the model
// failed, or the question was refused before it) or the attempt failed, so
// that the question can be asked again today. A stopped answer keeps its
// slot: the model worked for it. One taken over by another attempt keeps
// it too: that attempt finds it as its own; and so does one that failed
// for FC to retry, whose retry finds it (given back, another question
// could take it meanwhile, and the retry be refused as over the limit).
func (s *Control) giveBack(ctx context.Context, j *job, r response, err error) {
	if !j.slot || (err == nil && (r.turn != nil || r.stopped)) || retry.Retryable(err) ||
		errors.Is(err, chat.ErrNotHeld) || errors.Is(context.Cause(ctx), chat.ErrNotHeld) {
		return
	}
	day, _ := usageDay(s.receivedAt(j))
	// The attempt may be ending: the slot goes back all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if gerr := s.questions.GiveBack(ctx, usageSender(j.m), day, j.m.ID); gerr != nil {
		j.log.WarnContext(ctx, "could not give the question's slot back: it counts today", "err", gerr)
		return
	}
	j.slot = false
	j.log.InfoContext(ctx, "no answer: the question's slot is given back")
}

// countAnswer records the question m that the model answered, for \usage.
func (s *Control) countAnswer(ctx context.Context, log *slog.Logger, j *job, u chat.Usage) {
	day, _ := usageDay(s.receivedAt(j))
	if err := s.questions.Record(ctx, usageSender(j.m), day, j.m.ID, u); err != nil {
		log.ErrorContext(ctx, "could not count the question", "err", err)
	}
}

// prune removes a little of what is kept of days long past. A failure
// leaves the old day for the next message.
func (s *Control) prune(ctx context.Context, log *slog.Logger) {
	day, _ := usageDay(s.now())
	if err := s.questions.Prune(ctx, day); err != nil {
		log.WarnContext(ctx, "could not remove an old day's questions", "err", err)
	}
}

// usage tells m's sender their day so far: the day now.
func (s *Control) usage(ctx context.Context, _ *slog.Logger, m chat.Message, _ string) (string, error) {
	day, next := usageDay(s.now())
	d, err := s.questions.Day(ctx, usageSender(m), day)
	if err != nil {
		return "", retry.Mark(fmt.Errorf("read the day's questions: %w", err))
	}
	text := fmt.Sprintf("今天（北京时间）你问了 %d 个问题，用了 %d 个 token（输入 %d，输出 %d）。",
		d.Questions, d.Prompt+d.Completion, d.Prompt, d.Completion)
	switch {
	case s.access.admin(m):
		text += "你是管理员，不受每日上限限制。"
	case s.dailyLimit > 0:
		// A question being answered holds its slot already.
		text += fmt.Sprintf("每日上限 %d 个，还剩 %d 个，%s（北京时间）重置。",
			s.dailyLimit, max(s.dailyLimit-max(d.Taken, d.Questions), 0), next.Format("1月2日 15:04"))
	default:
		text += "没有每日上限。"
	}
	return text, nil
}
