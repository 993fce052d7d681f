package reply

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// describePictureQuestion is asked of pictures sent without words;
// readQuotedQuestion of a quote sent without words.
const (
	describePictureQuestion = "请描述这张图片。"
	readQuotedQuestion      = "请看看我引用的内容。"
)

// Prompter gathers what the model is asked about a question: the
// conversation's system prompt and model, the asker's history within the
// context window, the files sent for it and those it quotes, the quote,
// the pictures; and reads the files sent without a question
// (documents.go), keeping them for the next one.
type Prompter struct {
	history       History
	historyLength int
	settings      Settings
	// textModel answers words alone; visionModel a question with
	// pictures (noVision without VISION_MODEL).
	textModel, visionModel Model
	downloads              Files
	reader                 Reader
	documents              Documents
	// systemPromptDefault is SYSTEM_PROMPT; models are MODELS,
	// defaultModel among them.
	systemPromptDefault string
	models              []string
	defaultModel        string
	// window is MAX_CONTEXT_TOKENS (0: no bound).
	window          int
	maxPictureBytes int64
	maxFileBytes    int64
	documentsKept   time.Duration
	// sharedGroupContext: GROUP_CONTEXT=group.
	sharedGroupContext bool
	now                func() time.Time
	// reading holds the turn of the one file read at a time.
	reading chan struct{}
	// pictureBytes is the room for pictures the instance holds
	// (pictures.go).
	pictureBytes *semaphore.Weighted
}

// PrompterConfig is what a Prompter needs.
type PrompterConfig struct {
	History History
	// HistoryLength is how many earlier question/answer pairs go to the
	// model with a new question (HISTORY_LENGTH).
	HistoryLength int
	// MaxContextTokens bounds the estimated tokens of what the model is
	// asked, the oldest turns of the history left out first
	// (MAX_CONTEXT_TOKENS); 0 means no bound.
	MaxContextTokens int
	// SharedGroupContext gives each group one history that all its
	// members share (GROUP_CONTEXT=group); else each member has their
	// own. Questions then reach the model prefixed by their asker's name.
	SharedGroupContext bool
	// SystemPrompt is sent before every question (SYSTEM_PROMPT).
	SystemPrompt string
	// Model answers questions.
	Model Model
	// Models are what \model may switch to (MODELS), DefaultModel among
	// them (MODEL).
	Models       []string
	DefaultModel string
	// Settings, when offered, keep each conversation's system prompt and
	// model, set by \system and \model; nil offers neither command.
	Settings Settings
	// Vision, when VISION_MODEL is set, answers messages with pictures,
	// which Files downloads, each at most MaxPictureBytes. Without
	// either, the robot says it reads text only.
	Vision          Model
	Files           Files
	MaxPictureBytes int64
	// Documents keep the files a user sends without a question for their
	// next question, which Reader reads, each at most MaxFileBytes
	// (MAX_FILE_MB), for DocumentsKept (0 means DefaultDocumentsKept).
	// Without Documents, Reader or Files, the robot says it reads no
	// files.
	Documents     Documents
	Reader        Reader
	MaxFileBytes  int64
	DocumentsKept time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewPrompter returns a Prompter; a port cfg leaves nil is a feature that
// is off (features.go).
func NewPrompter(cfg PrompterConfig) *Prompter {
	if cfg.DocumentsKept <= 0 {
		cfg.DocumentsKept = DefaultDocumentsKept
	}
	return &Prompter{
		history: cfg.History, historyLength: cfg.HistoryLength,
		settings:  orOff[Settings](cfg.Settings, noSettings{}),
		textModel: cfg.Model, visionModel: orOff[Model](cfg.Vision, noVision{}),
		downloads: orOff[Files](cfg.Files, noFiles{}), reader: orOff[Reader](cfg.Reader, noReader{}),
		documents:           orOff[Documents](cfg.Documents, noDocuments{}),
		systemPromptDefault: cfg.SystemPrompt, models: cfg.Models, defaultModel: cfg.DefaultModel,
		window: cfg.MaxContextTokens, maxPictureBytes: cfg.MaxPictureBytes, maxFileBytes: cfg.MaxFileBytes,
		documentsKept: cfg.DocumentsKept, sharedGroupContext: cfg.SharedGroupContext, now: orNow(cfg.Now),
		reading:      make(chan struct{}, 1),
		pictureBytes: semaphore.NewWeighted(pictureBytesInFlight),
	}
}

// sentAt is when m was sent: DingTalk's createAt, or, for a callback
// without one, now.
func (s *Prompter) sentAt(m chat.Message) time.Time { return sentAt(m, s.now) }

// question is what the model is asked about a message, and how the history
// remembers it.
type question struct {
	p     chat.Prompt
	model Model
	// remembered is the question as the history keeps it: the asker's
	// words, with a mark for each file, quote and picture, whose contents
	// are not kept.
	remembered string
	// notes are told the user below the answer: a file cut to fit the
	// context window.
	notes []string
	// taken are the kept files the question takes, dropped once it is
	// answered.
	taken []chat.Document
	// free gives back the instance's room for the question's pictures.
	free func()
	// window is MAX_CONTEXT_TOKENS (0: no bound), which the tool rounds
	// must fit too.
	window int
}

// done frees what the question holds, once the model answered it.
func (q question) done() {
	if q.free != nil {
		q.free()
	}
}

// prompt gathers what the model is asked about m: the system prompt, the
// asker's history, the files sent for the question, the quoted message, the
// question and its pictures, and which model reads them. refusal, when not
// empty, is what to tell the user instead of asking (a picture or file the
// robot cannot read, a message with nothing to ask).
func (s *Prompter) prompt(ctx context.Context, j *job) (q question, refusal string, err error) {
	m := j.m
	codes := m.Pictures
	if qp := quotedPictures(m.Quote); len(qp) > 0 {
		codes = append(slices.Clip(codes), qp...)
	}
	set, err := j.settings.wait(ctx)
	if err != nil {
		return q, "", retry.Mark(fmt.Errorf("load the conversation's settings: %w", err))
	}
	// How many pictures fit is known before any is downloaded.
	pics, refusal, err := s.pictures(ctx, j.log, m, codes, s.picturesThatFit(m, set))
	if err != nil || refusal != "" {
		return q, refusal, err
	}
	images := pics.images
	q.free = pics.free
	defer func() {
		if err != nil || refusal != "" {
			pics.free()
		}
	}()
	history, err := j.history.wait(ctx)
	if err != nil {
		return q, "", retry.Mark(fmt.Errorf("load history: %w", err))
	}
	var docs []chat.Document
	if j.documents != nil {
		kept, err := j.documents.wait(ctx)
		if err != nil {
			return q, "", retry.Mark(fmt.Errorf("load the files sent for the question: %w", err))
		}
		docs = sentBefore(kept, s.sentAt(m))
		q.taken = docs
	}
	quote, refusal, err := s.readQuote(ctx, j.log, m, history)
	if err != nil || refusal != "" {
		return q, refusal, err
	}
	if quote.doc != nil {
		docs = append(docs, *quote.doc)
	}
	pictures := len(quotedPictures(m.Quote))
	asked := m.Text
	switch {
	case asked != "":
	case len(images) > 0 && m.Quote == nil:
		asked = describePictureQuestion
	case quote.unseen:
		return q, unseenQuoteText, nil
	case m.Quote != nil:
		asked = readQuotedQuestion
	default:
		return q, unsupportedText(m.Type), nil
	}

	p := chat.Prompt{System: s.systemPrompt(set), History: history, Images: images}
	q.model = s.textModel
	if name := s.model(set); name != s.defaultModel && len(images) == 0 {
		p.Model = name // pictures go to VISION_MODEL whatever the conversation's
	}
	if len(images) > 0 {
		q.model = s.visionModel
	}
	seen := pictures > 0 && len(images) > 0
	p.Question = s.asked(m, withQuote(asked, quote, pictures, seen))
	window := s.window
	var files string
	files, q.notes, refusal = s.files(docs, p, window)
	if quote.unseen {
		q.notes = append(q.notes, unseenQuoteNote)
	}
	if refusal != "" {
		j.log.Log(ctx, logging.LevelNotice, "no room for the files in the context window", "files", len(docs), "window", window)
		return q, refusal, nil
	}
	p.Question = files + p.Question
	if window > 0 {
		dropped, fits := p.Fit(window)
		if !fits {
			j.log.Log(ctx, logging.LevelNotice, "the question alone exceeds the context window", "questionTokens", chat.Tokens(p.Question), "pictures", len(images), "window", window)
			if words := p.Room(window) - chat.Tokens(p.Question); len(images) > 0 && words >= 0 {
				// The words fit: the pictures are what does not.
				return q, picturesDoNotFitText(len(images), words/chat.ImageTokens(1), window), nil
			}
			return q, tooLongText(chat.Tokens(p.Question), p.Room(window)), nil
		}
		if dropped > 0 {
			j.log.InfoContext(ctx, "the oldest turns left out to fit the context window", "dropped", dropped, "kept", len(p.History), "window", window)
		}
	}
	q.p, q.window = p, s.window
	q.remembered = s.asked(m, remembered(m.Text, docs, m.Quote, len(m.Pictures)))
	return q, "", nil
}

// picturesThatFit is how many pictures fit in the context window beside
// m's words and the conversation's system prompt, or -1 without a bound:
// known before any picture is downloaded. The history gives way to them;
// a quote or a file the question carries may still leave them no room.
func (s *Prompter) picturesThatFit(m chat.Message, set chat.Settings) int {
	window := s.window
	if window <= 0 {
		return -1
	}
	asked := m.Text
	if asked == "" {
		asked = describePictureQuestion
	}
	bare := chat.Prompt{System: s.systemPrompt(set), Question: s.asked(m, asked)}
	return max(window-bare.Tokens(), 0) / chat.ImageTokens(1)
}

// remembered is how the history keeps a question: its words, with a mark
// for each file, quote and picture, whose contents it does not keep.
func remembered(asked string, docs []chat.Document, quote *chat.Quote, pictures int) string {
	var marks []string
	for _, d := range docs {
		marks = append(marks, "[文件："+d.Name+"]")
	}
	if quote != nil && (quote.Text != "" || quote.File == nil) { // a quoted file has its mark
		what := quote.Text
		switch {
		case what != "":
		case quote.Media != nil && quote.Media.Kind == chat.MediaAudio, quote.Type == "audio":
			what = "语音"
		case quote.Media != nil, quote.Type == "video":
			what = "视频"
		}
		if r := []rune(what); len(r) > quotedRemembered {
			what = string(r[:quotedRemembered]) + "…"
		}
		marks = append(marks, strings.TrimSuffix("[引用："+what, "：")+"]")
	}
	if pictures > 0 {
		marks = append(marks, "[图片]")
	}
	return strings.TrimSpace(strings.Join(append(marks, asked), " "))
}

// quotedRemembered is how many characters of a quote the history keeps.
const quotedRemembered = 60

// tooLongText answers a question longer than the model may read.
func tooLongText(tokens, room int) string {
	return fmt.Sprintf("抱歉，你的问题太长了：约 %d 个 token，我一次最多能读约 %d 个（中文大约 %d 个字）。请缩短后再发，或分几次发。", tokens, room, room)
}

// asked is question as the model reads it, and the history keeps it: in a
// group that shares one context, after its asker's name, so that the model
// knows who said what.
func (s *Prompter) asked(m chat.Message, question string) string {
	if !m.IsGroup() || !s.sharedGroupContext {
		return question
	}
	name := m.SenderNick
	if name == "" {
		name = "一位成员"
	}
	return name + "：" + question
}

// unsupportedText answers a message that holds nothing the robot can ask
// the model.
func unsupportedText(msgtype string) string {
	switch msgtype {
	case "text", "richText", "audio", "markdown":
		return "没有收到文字内容，请直接输入你的问题。"
	case "interactiveCard":
		return "抱歉，我打不开分享的钉钉文档和卡片。请把要问的内容复制成文字发给我。"
	case "chatRecord":
		return "抱歉，我读不到这份聊天记录的内容。请逐条转发，或把原文复制给我。"
	case "picture":
		return "抱歉，我目前只能阅读文字，看不了图片。请用文字描述你的问题。"
	case "video":
		return "抱歉，我目前只能阅读文字，看不了视频。请用文字描述你的问题。"
	case "file":
		return "抱歉，我目前只能阅读文字，打不开文件。请把内容以文字发给我。"
	default:
		return "抱歉，这类消息我还不能处理。我能阅读文字消息和语音转写的文字。"
	}
}

// loadHistory starts loading the last HistoryLength turns of m's asker.
func (s *Prompter) loadHistory(ctx context.Context, m chat.Message) *pending[[]chat.Turn] {
	return begin(ctx, func(ctx context.Context) ([]chat.Turn, error) {
		return s.history.Load(ctx, s.historyOwner(m), s.historyLength)
	})
}
