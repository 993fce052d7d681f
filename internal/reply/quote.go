package reply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// quoted is what a question quotes, read for the model: the quoted words,
// and the quoted file's text. Quoted pictures go with the question's own.
type quoted struct {
	text      string
	fromRobot bool
	doc       *chat.Document
}

// cannotSeeCardText answers a question quoting an answer of the robot's
// that DingTalk gave no content for (a card) and that the history no
// longer holds.
const cannotSeeCardText = "抱歉，我看不到你引用的那条回答的内容（钉钉没有把卡片的内容转给我，我的记录里也找不到它）。请把要问的那段文字复制出来，和问题一起发给我。"

// answerDrift is how long after its turn was kept an answer may reach the
// conversation (its delivery, a retry of it) and still be the one a quote
// points at: short, so that a quote of an answer that kept no turn (one
// stopped, one that failed) does not find the turn before it.
const answerDrift = 30 * time.Second

// readQuote reads what m quotes, taking the quoted answer of the robot's
// own from history when DingTalk sent no content for it (a card). refusal,
// when not empty, says what cannot be read; the error is retryable.
func (s *Service) readQuote(ctx context.Context, log *slog.Logger, m chat.Message, history []chat.Turn) (q quoted, refusal string, err error) {
	mq := m.Quote
	if mq == nil {
		return q, "", nil
	}
	q.text, q.fromRobot = mq.Text, mq.FromRobot
	if mq.FromRobot && q.text == "" && mq.File == nil && len(mq.Pictures) == 0 {
		t, ok := ownAnswer(history, mq.SentAt)
		if !ok {
			log.InfoContext(ctx, "a quote of the robot's own answer without content, not in the history")
			return q, cannotSeeCardText, nil
		}
		q.text = t.Answer
	}
	if mq.File != nil {
		doc, refusal, err := s.readFile(ctx, log, m, *mq.File)
		if err != nil || refusal != "" {
			return q, refusal, err
		}
		q.doc = &doc
	}
	return q, "", nil
}

// ownAnswer finds the turn whose answer reached the conversation at sent:
// the newest turn asked before it and answered at most answerDrift before
// it. A card is posted when the model starts, before its turn is kept.
func ownAnswer(history []chat.Turn, sent time.Time) (chat.Turn, bool) {
	if sent.IsZero() {
		return chat.Turn{}, false
	}
	for i := len(history) - 1; i >= 0; i-- {
		t := history[i]
		if !t.AskedAt.After(sent) && !sent.After(t.AnsweredAt.Add(answerDrift)) {
			return t, true
		}
	}
	return chat.Turn{}, false
}

// withQuote puts what a question quotes before it, marked as quoted, so
// that the model reads it as what the question is about. pictures counts
// the quoted pictures; seen says whether they go to the model with the
// question.
func withQuote(asked string, q quoted, pictures int, seen bool) string {
	var parts []string
	if q.text != "" {
		parts = append(parts, q.text)
	}
	if q.doc != nil {
		parts = append(parts, fmt.Sprintf("[文件《%s》，内容见上]", q.doc.Name))
	}
	switch {
	case pictures > 0 && seen:
		parts = append(parts, fmt.Sprintf("[%d 张图片，见随附的图片]", pictures))
	case pictures > 0:
		parts = append(parts, "[图片，你看不到它]")
	}
	if len(parts) == 0 {
		return asked
	}
	from := "user"
	if q.fromRobot {
		from = "assistant"
	}
	return fmt.Sprintf("<quote from=%q>\n%s\n</quote>\n\n%s", from, strings.Join(parts, "\n"), asked)
}
