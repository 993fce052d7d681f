package reply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// A press of a button of one of the robot's cards (docs/cards.md) reaches
// the reply function as an event of its own, which the conversation
// function checked (its signature, a card of this robot's, a known
// button). What it does is conversation control:
//
//   - stop ends the answer being written, as \stop does: only its asker,
//     or in a group an administrator, may;
//   - like and dislike count once per person per answer, and the card
//     shows the counts to everyone;
//   - approve and deny decide on the tool the model waits to use
//     (confirm.go), counted only from whoever may decide.
//
// A press on a card the robot has no record of, or by someone who may not
// press it, changes nothing. FC may deliver a press twice: each does
// what it does once (a vote counts once, a stop or a decision twice is
// one).

// press does what p asks.
func (s *Control) press(ctx context.Context, log *slog.Logger, p chat.Press) error {
	log = log.With("action", string(p.Action), "outTrackId", p.CardID)
	rec, err := s.cards.Find(ctx, p.CardID, p.At)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.WarnContext(ctx, "a press on a card the robot has no record of (too old, or never kept): it changes nothing")
		return nil
	case err != nil:
		return retry.Mark(fmt.Errorf("find the card's question: %w", err))
	}
	log = log.With("msgId", rec.MessageID)
	group := rec.ConversationType == chat.GroupChat
	switch p.Action {
	case chat.PressStop:
		if p.UserID != rec.AskerStaffID && !(group && slices.Contains(s.access.Admins, p.UserID)) {
			log.WarnContext(ctx, "a Stop pressed by someone other than the asker: it changes nothing")
			return nil
		}
		// The card's own question and those before it: a Stop left on a
		// finished card never ends a newer answer.
		at := rec.AskedAt.Add(time.Millisecond)
		if at.After(p.At) {
			at = p.At
		}
		if err := s.stops.Stop(ctx, rec.Owner, at); err != nil {
			return retry.Mark(fmt.Errorf("request a stop: %w", err))
		}
		log.Log(ctx, logging.LevelNotice, "stop requested by the card's button")
	case chat.PressLike, chat.PressDislike:
		like := p.Action == chat.PressLike
		// The vote's day, on the robot's clock: a card's record holds the
		// question's createAt, which the callback chose.
		day, _ := usageDay(p.At)
		counted, err := s.votes.Vote(ctx, day, rec.MessageID, p.UserID, like)
		if err != nil {
			return retry.Mark(fmt.Errorf("keep a vote: %w", err))
		}
		log.Log(ctx, logging.LevelNotice, "vote", "like", like, "counted", counted)
		if !counted {
			return nil
		}
		likes, dislikes, err := s.votes.Tally(ctx, day, rec.MessageID)
		if err != nil {
			log.WarnContext(ctx, "could not count the answer's votes to show them", "err", err)
			return nil
		}
		if err := s.outbox.ShowVotes(ctx, p.CardID, likes, dislikes); err != nil {
			log.WarnContext(ctx, "could not show the answer's votes on its card", "err", err)
		}
	case chat.PressApprove, chat.PressDeny:
		key := decisionKey(rec.ConversationID, questionCode(rec.MessageID))
		if err := s.decisions.Decide(ctx, key, p.UserID, p.At, p.Action == chat.PressApprove); err != nil {
			return retry.Mark(fmt.Errorf("keep a decision on a tool call: %w", err))
		}
		log.Log(ctx, logging.LevelNotice, "decision on a tool call pressed", "allow", p.Action == chat.PressApprove)
	default:
		log.WarnContext(ctx, "a press of an unknown button: it changes nothing")
	}
	return nil
}

// feedbackDays is how many days \feedback shows.
const feedbackDays = 7

// feedback answers \feedback, for administrators: the votes on the
// answers of each of the last days.
func (s *Control) feedback(ctx context.Context, _ *slog.Logger, m chat.Message, _ string) (string, error) {
	if !s.access.admin(m) {
		return "只有管理员（ADMIN_USERS）可以查看回答的反馈。", nil
	}
	type count struct{ likes, dislikes int }
	counts := make([]count, feedbackDays)
	days := make([]string, feedbackDays)
	errs := make([]error, feedbackDays)
	now := s.now()
	var wg sync.WaitGroup
	for i := range feedbackDays {
		days[i], _ = usageDay(now.Add(-time.Duration(i) * 24 * time.Hour))
		wg.Go(func() { counts[i].likes, counts[i].dislikes, errs[i] = s.votes.Count(ctx, days[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", retry.Mark(fmt.Errorf("count the votes: %w", err))
	}
	var b strings.Builder
	b.WriteString("最近 7 天（北京时间）回答收到的反馈：\n")
	total := count{}
	for i, d := range days {
		fmt.Fprintf(&b, "%s-%s-%s：👍 %d　👎 %d\n", d[:4], d[4:6], d[6:], counts[i].likes, counts[i].dislikes)
		total.likes += counts[i].likes
		total.dislikes += counts[i].dislikes
	}
	fmt.Fprintf(&b, "合计：👍 %d　👎 %d", total.likes, total.dislikes)
	return b.String(), nil
}
