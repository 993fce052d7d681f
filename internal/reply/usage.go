package reply

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// A sender's day is a day in Asia/Shanghai, where DingTalk's users are:
// UTC+8 all year, so a fixed zone needs no time zone database.
func shanghai() *time.Location { return time.FixedZone("CST", 8*60*60) }

// usageDay is the day m counts in, and when the next one begins. It is the
// day m was sent, so that a message delivered again counts in the same day.
func (s *Service) usageDay(m chat.Message) (day string, next time.Time) {
	local := s.sentAt(m).In(shanghai())
	y, mo, d := local.Date()
	return local.Format("20060102"), time.Date(y, mo, d+1, 0, 0, 0, 0, shanghai())
}

// usageSender is whose questions m counts among: the staff id, which is the
// same in every conversation, else DingTalk's sender id.
func usageSender(m chat.Message) string {
	if m.SenderStaffID != "" {
		return "staff\x00" + m.SenderStaffID
	}
	return "sender\x00" + m.SenderID
}

// countDay starts reading m's sender's day, or returns nil when nothing
// is counted.
func (s *Service) countDay(ctx context.Context, m chat.Message) *pending[chat.DayUsage] {
	if s.cfg.Questions == nil {
		return nil
	}
	day, _ := s.usageDay(m)
	return begin(ctx, func(ctx context.Context) (chat.DayUsage, error) {
		return s.cfg.Questions.Day(ctx, usageSender(m), day)
	})
}

// overLimit says, when m's sender reached DAILY_LIMIT today, what to tell
// them; else "". A day that cannot be read lets the question through: a
// limit is worth less than an answer lost to a passing failure.
func (s *Service) overLimit(ctx context.Context, j *job) string {
	if s.cfg.DailyLimit <= 0 || j.usage == nil || s.cfg.Access.admin(j.m) {
		return ""
	}
	d, err := j.usage.wait(ctx)
	if err != nil {
		j.log.WarnContext(ctx, "could not read the sender's questions today: not limiting this one", "err", err)
		return ""
	}
	if d.Questions < s.cfg.DailyLimit {
		return ""
	}
	_, next := s.usageDay(j.m)
	j.log.InfoContext(ctx, "the sender reached the daily limit", "questions", d.Questions, "limit", s.cfg.DailyLimit)
	return fmt.Sprintf("抱歉，你今天已经问了 %d 个问题，达到了每日 %d 个的上限。额度在 %s（北京时间）重置。",
		d.Questions, s.cfg.DailyLimit, next.Format("1月2日 15:04"))
}

// countAnswer records the question m that the model answered, for
// DAILY_LIMIT and \usage.
func (s *Service) countAnswer(ctx context.Context, log *slog.Logger, m chat.Message, u chat.Usage) {
	if s.cfg.Questions == nil {
		return
	}
	day, _ := s.usageDay(m)
	if err := s.cfg.Questions.Record(ctx, usageSender(m), day, m.ID, u); err != nil {
		log.ErrorContext(ctx, "could not count the question", "err", err)
	}
}

func (s *Service) usage(ctx context.Context, _ *slog.Logger, m chat.Message, _ string) (string, error) {
	day, next := s.usageDay(m)
	d, err := s.cfg.Questions.Day(ctx, usageSender(m), day)
	if err != nil {
		return "", retry.Mark(fmt.Errorf("read the day's questions: %w", err))
	}
	text := fmt.Sprintf("今天（北京时间）你问了 %d 个问题，用了 %d 个 token（输入 %d，输出 %d）。",
		d.Questions, d.Prompt+d.Completion, d.Prompt, d.Completion)
	switch {
	case s.cfg.Access.admin(m):
		text += "你是管理员，不受每日上限限制。"
	case s.cfg.DailyLimit > 0:
		text += fmt.Sprintf("每日上限 %d 个，还剩 %d 个，%s（北京时间）重置。",
			s.cfg.DailyLimit, max(s.cfg.DailyLimit-d.Questions, 0), next.Format("1月2日 15:04"))
	default:
		text += "没有每日上限。"
	}
	return text, nil
}
