package reply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// textReader reads .txt files as they are, refuses other kinds, and fails
// as a file's content says: "corrupt", "empty", "locked", "complex",
// "no-process".
type textReader struct{}

func (textReader) Readable(name string) bool { return strings.HasSuffix(name, ".txt") }

func (textReader) Read(_ context.Context, _ string, f *os.File) (string, bool, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return "", false, err
	}
	switch string(data) {
	case "corrupt":
		return "", false, fmt.Errorf("bad bytes: %w", chat.ErrFileCorrupt)
	case "empty":
		return "", false, chat.ErrFileNoText
	case "locked":
		return "", false, chat.ErrFileEncrypted
	case "complex":
		return "", false, fmt.Errorf("%w: the reader ran out of its 48 MiB", chat.ErrFileTooComplex)
	case "no-process":
		return "", false, retry.Mark(errors.New("forked: start the reader: resource temporarily unavailable"))
	}
	return string(data), false, nil
}

func fileFixture(t *testing.T, edits ...func(*testConfig)) *fixture {
	t.Helper()
	docs := bucket.NewDocuments(mountAt(t, t.TempDir()))
	files := fileStore{
		"notes":   {Data: []byte("会议定在周三下午三点。")},
		"long":    {Data: []byte(strings.Repeat("很长的内容。\n", 2000))},
		"corrupt": {Data: []byte("corrupt")},
		"empty":   {Data: []byte("empty")},
		"locked":  {Data: []byte("locked")},
		"big":     {Data: make([]byte, 2<<20)},
		// A size not announced, found by reading one byte past the limit.
		"big-unannounced": {Data: make([]byte, 1<<20+1), Unannounced: true},
		"complex":         {Data: []byte("complex")},
		"no-process":      {Data: []byte("no-process")},
	}
	return newFixture(t, nil, append([]func(*testConfig){func(c *testConfig) {
		c.Documents, c.Reader, c.Files, c.MaxFileBytes = docs, textReader{}, files, 1<<20
	}}, edits...)...)
}

func fileEvent(id, code, name string, at time.Time) chat.Event {
	ev := event(id, "", at)
	ev.Message.Type, ev.Message.File = "file", &chat.Attachment{Name: name, DownloadCode: code}
	return ev
}

func TestAFileIsKeptForTheNextQuestionOnly(t *testing.T) {
	f := fileFixture(t)
	if err := f.handle(t, "r1", fileEvent("f1", "notes", "会议.txt", clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "已读取文件《会议.txt》（11 字）") {
		t.Errorf("the file was acknowledged with %q", got)
	}
	if f.askedCount() != 0 {
		t.Errorf("a file alone asked the model")
	}
	if err := f.handle(t, "r2", event("m2", "会议几点？", clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	p := f.lastAsked()
	if !strings.Contains(p.Question, "<file name=\"会议.txt\">\n会议定在周三下午三点。\n</file>") || !strings.HasSuffix(p.Question, "会议几点？") {
		t.Errorf("the question reached the model as %q; want the file's text before it", p.Question)
	}
	turns, err := f.history.Load(t.Context(), event("", "", clock).Message.HistoryOwner(), 5)
	if err != nil || len(turns) != 1 || turns[0].Question != "[文件：会议.txt] 会议几点？" {
		t.Errorf("history %+v (%v); want the question with a mark of the file, not its text", turns, err)
	}
	if err := f.handle(t, "r3", event("m3", "还有别的吗", clock.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); strings.Contains(p.Question, "<file") {
		t.Errorf("the file went with a second question too: %q", p.Question)
	}
}

func TestAFileTooLongForTheWindowIsCutAndTheUserTold(t *testing.T) {
	f := fileFixture(t, func(c *testConfig) { c.MaxContextTokens = 1000 })
	// A long name costs tokens too, and is no reason to refuse.
	name := strings.Repeat("很长的文件名", 10) + ".txt"
	if err := f.handle(t, "r1", fileEvent("f1", "long", name, clock)); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r2", event("m2", "总结一下", clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	p := f.lastAsked()
	if p.Tokens() > 1000 || !strings.Contains(p.Question, `note="文件太长，这里只有开头的`) {
		t.Errorf("the model was asked %d tokens (window 1000), the cut marked: %v", p.Tokens(), strings.Contains(p.Question, "note="))
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "注：文件《"+name+"》太长，我只读了开头的") {
		t.Errorf("the answer %q does not tell the user the file was cut", got)
	}
}

func TestAFileThatCannotBeReadIsSaidSoAndKeptNowhere(t *testing.T) {
	for _, tc := range []struct{ code, name, want string }{
		{"notes", "报告.exe", "我读不了《报告.exe》这类文件"},
		{"notes", "旧.doc", "另存为 .docx"},
		{"big", "大.txt", "文件《大.txt》太大了（上限 1 MB）"},
		{"big-unannounced", "大.txt", "文件《大.txt》太大了（上限 1 MB）"},
		{"complex", "深.txt", "文件《深.txt》太复杂，读它要的内存或时间超出了我的上限"},
		{"corrupt", "坏.txt", "它可能已损坏"},
		{"empty", "空.txt", "没有可以读取的文字"},
		{"locked", "锁.txt", "有密码或加密保护"},
		{"gone", "没了.txt", "没能下载文件《没了.txt》"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fileFixture(t)
			if err := f.handle(t, "r1", fileEvent("f1", tc.code, tc.name, clock)); err != nil {
				t.Fatal(err)
			}
			if got := f.out.last(conversationID); !strings.Contains(got, tc.want) {
				t.Errorf("answered %q; want it to say %q", got, tc.want)
			}
			if err := f.handle(t, "r2", event("m2", "文件里说了什么", clock.Add(time.Minute))); err != nil {
				t.Fatal(err)
			}
			if p := f.lastAsked(); strings.Contains(p.Question, "<file") {
				t.Errorf("a file that could not be read reached the model: %q", p.Question)
			}
		})
	}
}

func TestClearDropsAFileWaitingForItsQuestion(t *testing.T) {
	f := fileFixture(t)
	if err := f.handle(t, "r1", fileEvent("f1", "notes", "会议.txt", clock)); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r2", event("m2", `\clear`, clock.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r3", event("m3", "会议几点？", clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); strings.Contains(p.Question, "<file") {
		t.Errorf("a file sent before \\clear reached the model: %q", p.Question)
	}
}

func quoteEvent(id, text string, at time.Time, q chat.Quote) chat.Event {
	ev := event(id, text, at)
	ev.Message.Quote = &q
	return ev
}

func TestAQuoteReachesTheModelMarkedBeforeTheQuestion(t *testing.T) {
	f := fileFixture(t, func(c *testConfig) { c.Vision, c.MaxPictureBytes = &visionModel{}, 1<<20 })
	f.cfg.Files.(fileStore)["pic"] = stored{MediaType: "image/png", Data: []byte("\x89PNG")}
	if err := f.handle(t, "r1", quoteEvent("m1", "这是什么意思？", clock, chat.Quote{Type: "text", Text: "明天下午三点开会"})); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); p.Question != "<quote from=\"user\">\n明天下午三点开会\n</quote>\n\n这是什么意思？" {
		t.Errorf("the question reached the model as %q", p.Question)
	}
	turns, _ := f.history.Load(t.Context(), event("", "", clock).Message.HistoryOwner(), 5)
	if len(turns) != 1 || turns[0].Question != "[引用：明天下午三点开会] 这是什么意思？" {
		t.Errorf("history %+v; want the quote marked, shortly", turns)
	}

	// A quoted file is read for the question that quotes it.
	if err := f.handle(t, "r2", quoteEvent("m2", "几点开会？", clock.Add(time.Minute), chat.Quote{Type: "file", File: &chat.Attachment{Name: "会议.txt", DownloadCode: "notes"}})); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); !strings.HasPrefix(p.Question, "<file name=\"会议.txt\">\n会议定在周三下午三点。\n</file>") || !strings.Contains(p.Question, "[文件《会议.txt》，内容见上]") {
		t.Errorf("a quoted file reached the model as %q", p.Question)
	}

	// A quoted picture goes to the vision model.
	v := f.cfg.Vision.(*visionModel)
	if err := f.handle(t, "r3", quoteEvent("m3", "图里是什么", clock.Add(2*time.Minute), chat.Quote{Type: "picture", Pictures: []string{"pic"}})); err != nil {
		t.Fatal(err)
	}
	if len(v.seen) != 1 || len(v.seen[0]) != 1 {
		t.Errorf("the vision model saw %v; want the quoted picture", v.seen)
	}
}

func TestAQuoteOfTheRobotsCardIsReadFromItsOwnRecord(t *testing.T) {
	f := fileFixture(t)
	if err := f.handle(t, "r1", event("m1", "Go 是什么", clock)); err != nil {
		t.Fatal(err)
	}
	// The card went out a moment after the question; DingTalk quotes it
	// without content.
	card := chat.Quote{Type: "interactiveCard", FromRobot: true, SentAt: clock.Add(time.Second)}
	if err := f.handle(t, "r2", quoteEvent("m2", "再详细点", clock.Add(time.Minute), card)); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); !strings.HasPrefix(p.Question, "<quote from=\"assistant\">\n答：Go 是什么\n</quote>") {
		t.Errorf("the quoted card reached the model as %q; want the robot's own answer", p.Question)
	}
	asked := f.askedCount()
	card.SentAt = clock.Add(-time.Hour) // before anything the record holds
	if err := f.handle(t, "r3", quoteEvent("m3", "这是什么", clock.Add(2*time.Minute), card)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != cannotSeeCardText || f.askedCount() != asked {
		t.Errorf("a card the record does not hold was answered %q, the model asked %d more times", got, f.askedCount()-asked)
	}
}

func TestAFileStoredAfterAQuestionSentLaterStillGoesWithTheNext(t *testing.T) {
	f := fileFixture(t)
	// The question is answered before the file, sent first, is read.
	if err := f.handle(t, "r1", event("m1", "先问一个", clock.Add(5*time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r2", fileEvent("f1", "notes", "会议.txt", clock)); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r3", event("m3", "会议几点？", clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); !strings.Contains(p.Question, "<file name=\"会议.txt\">") {
		t.Errorf("the next question went without the file: %q", p.Question)
	}
}

func TestAFileStaysWhenItsQuestionWasNotAnswered(t *testing.T) {
	failing := true
	f := fileFixture(t, func(c *testConfig) {
		c.Model = modelFunc(func(_ context.Context, p chat.Prompt) (string, error) {
			if failing {
				return "", modelFailure{kind: chat.ErrModelUnavailable}
			}
			return "答：" + p.Question, nil
		})
	})
	if err := f.handle(t, "r1", fileEvent("f1", "notes", "会议.txt", clock)); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r2", event("m2", "会议几点？", clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	failing = false
	if err := f.handle(t, "r3", event("m3", "会议几点？", clock.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "<file name=\"会议.txt\">") {
		t.Errorf("asked again after the model failed, the question went without the file: %q", got)
	}
}

func TestAMessageWithoutWordsAfterAFileIsNotAskedAboutTheFile(t *testing.T) {
	f := fileFixture(t)
	if err := f.handle(t, "r1", fileEvent("f1", "notes", "会议.txt", clock)); err != nil {
		t.Fatal(err)
	}
	ev := event("m2", "", clock.Add(time.Minute))
	ev.Message.Type = "video"
	if err := f.handle(t, "r2", ev); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != unsupportedText("video") || f.askedCount() != 0 {
		t.Errorf("a video after a file was answered %q, the model asked %d times", got, f.askedCount())
	}
}

// A reader that cannot run is no fault of the file's: FC tries again,
// and the user is told nothing wrong meanwhile.
func TestAReaderThatCannotRunIsRetried(t *testing.T) {
	f := fileFixture(t)
	if err := f.handle(t, "r1", fileEvent("f1", "no-process", "会议.txt", clock)); !retry.Retryable(err) {
		t.Errorf("Handle = %v; want a retry", err)
	}
	if len(f.out.answers) != 0 {
		t.Errorf("answered %+v", f.out.answers)
	}
}
