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
	// title is a quoted forwarded chat's; media a quoted voice message or
	// video, said as what it is; unseen a quote DingTalk sent nothing
	// readable of.
	title  string
	media  *chat.Media
	unseen bool
}

// unseenQuoteNote tells the user, below the answer, that the quoted message
// did not reach the robot; unseenQuoteText answers a quote of it sent
// without a question.
const (
	unseenQuoteNote = "注：我看不到你引用的那条消息（钉钉没有把它的内容转给我），以上回答没有参考它。"
	unseenQuoteText = "抱歉，我看不到你引用的那条消息的内容（钉钉没有把它转给我）。请把要问的内容复制出来，和问题一起发给我。"
)

// quotedPictures are the download codes of the pictures a quote holds. A
// quoted voice message or video is no picture, though an event written
// before quotes knew them carries its download code as one.
func quotedPictures(q *chat.Quote) []string {
	if q == nil || q.Media != nil || q.Type == "audio" || q.Type == "video" {
		return nil
	}
	return q.Pictures
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
func (s *Prompter) readQuote(ctx context.Context, log *slog.Logger, m chat.Message, history []chat.Turn) (q quoted, refusal string, err error) {
	mq := m.Quote
	if mq == nil {
		return q, "", nil
	}
	q.text, q.fromRobot, q.title, q.media = mq.Text, mq.FromRobot, mq.Title, mq.Media
	if mq.FromRobot && q.text == "" && mq.File == nil && len(quotedPictures(mq)) == 0 && mq.Media == nil {
		t, ok := ownAnswer(history, mq.SentAt)
		if !ok {
			log.InfoContext(ctx, "a quote of the robot's own answer without content, not in the history")
			return q, cannotSeeCardText, nil
		}
		q.text = t.Answer
		return q, "", nil
	}
	if mq.Media == nil && (mq.Type == "audio" || mq.Type == "video") {
		q.media = &chat.Media{Kind: mq.Type} // an event written before quotes knew them
	}
	q.unseen = mq.Unseen || (q.text == "" && mq.File == nil && len(quotedPictures(mq)) == 0 && q.media == nil)
	if q.unseen {
		log.InfoContext(ctx, "a quote without content the robot can read", "quotedType", mq.Type)
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
	if q.title != "" {
		parts = append(parts, fmt.Sprintf("[聊天记录《%s》]", q.title))
	}
	if q.media != nil {
		parts = append(parts, mediaMark(*q.media))
	}
	if q.text != "" {
		parts = append(parts, q.text)
	}
	if q.unseen {
		parts = append(parts, "[一条消息，钉钉没有转来它的内容，你看不到它]")
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

// mediaMark says what a quoted voice message or video is, for a model that
// can neither hear nor watch it.
func mediaMark(m chat.Media) string {
	switch {
	case m.Kind == chat.MediaAudio && m.Seconds > 0:
		return fmt.Sprintf("[语音 %d 秒，你听不到它]", m.Seconds)
	case m.Kind == chat.MediaAudio:
		return "[语音，你听不到它]"
	default:
		return "[视频，你看不到它]"
	}
}
