package reply

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// downloads records the download codes the reply asks for.
type downloads struct {
	fileStore
	mu    sync.Mutex
	codes []string
}

func (d *downloads) Download(ctx context.Context, m chat.Message, code string, maxBytes int64) (chat.File, error) {
	d.mu.Lock()
	d.codes = append(d.codes, code)
	d.mu.Unlock()
	return d.fileStore.Download(ctx, m, code, maxBytes)
}

func TestAQuoteThatCouldNotBeSeenReachesTheModelAsSuch(t *testing.T) {
	f := fileFixture(t)
	unseen := chat.Quote{Type: "unknownMsgType", MessageID: "q1", Unseen: true}
	if err := f.handle(t, "r1", quoteEvent("m1", "这个怎么处理？", clock, unseen)); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); p.Question != "<quote from=\"user\">\n[一条消息，钉钉没有转来它的内容，你看不到它]\n</quote>\n\n这个怎么处理？" {
		t.Errorf("the question reached the model as %q", p.Question)
	}
	if got := f.out.last(conversationID); !strings.HasSuffix(got, unseenQuoteNote) {
		t.Errorf("the user was answered %q; want the note that the quote was not seen", got)
	}

	// Quoted alone, with no question, it is answered without the model.
	asked := f.askedCount()
	if err := f.handle(t, "r2", quoteEvent("m2", "", clock.Add(time.Minute), unseen)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != unseenQuoteText || f.askedCount() != asked {
		t.Errorf("an unseen quote without a question was answered %q, the model asked %d more times", got, f.askedCount()-asked)
	}
}

func TestAQuotedVoiceMessageOrVideoIsSaidAndNotDownloadedAsAPicture(t *testing.T) {
	files := &downloads{fileStore: fileStore{"clip": {MediaType: "audio/amr", Data: []byte("#!AMR")}}}
	f := fileFixture(t, func(c *testConfig) { c.Files, c.Vision, c.MaxPictureBytes = files, &visionModel{}, 1<<20 })
	tests := []struct {
		name  string
		quote chat.Quote
		want  string
	}{
		{"a voice message", chat.Quote{Type: "audio", Media: &chat.Media{Kind: chat.MediaAudio, Seconds: 12}}, "[语音 12 秒，你听不到它]"},
		{"a voice message with its words", chat.Quote{Type: "audio", Text: "明天见", Media: &chat.Media{Kind: chat.MediaAudio, Seconds: 2}}, "[语音 2 秒，你听不到它]\n明天见"},
		{"a video", chat.Quote{Type: "video", Media: &chat.Media{Kind: chat.MediaVideo}}, "[视频，你看不到它]"},
		// An event written before quotes knew voice and video carries
		// their download code as a picture's.
		{"a voice message in an older event", chat.Quote{Type: "audio", Pictures: []string{"clip"}}, "[语音，你听不到它]"},
		{"a video in an older event", chat.Quote{Type: "video", Pictures: []string{"clip"}}, "[视频，你看不到它]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "m" + string(rune('a'+i))
			if err := f.handle(t, "r"+id, quoteEvent(id, "说了什么？", clock.Add(time.Duration(i)*time.Minute), tt.quote)); err != nil {
				t.Fatal(err)
			}
			want := "<quote from=\"user\">\n" + tt.want + "\n</quote>\n\n说了什么？"
			if p := f.lastAsked(); p.Question != want || len(p.Images) != 0 {
				t.Errorf("the question reached the model as %q with %d images; want %q", p.Question, len(p.Images), want)
			}
			if got := f.out.last(conversationID); !strings.HasPrefix(got, "答：") {
				t.Errorf("the user was answered %q; want the model's answer", got)
			}
		})
	}
	if len(files.codes) != 0 {
		t.Errorf("downloaded %v; a quoted voice message or video is no picture", files.codes)
	}
}

func TestAQuotedForwardedChatReachesTheModelWithItsTitle(t *testing.T) {
	f := fileFixture(t)
	q := chat.Quote{Type: "chatRecord", Title: "群聊的聊天记录", Text: "寻径:客户查询异常"}
	if err := f.handle(t, "r1", quoteEvent("m1", "怎么解决？", clock, q)); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); p.Question != "<quote from=\"user\">\n[聊天记录《群聊的聊天记录》]\n寻径:客户查询异常\n</quote>\n\n怎么解决？" {
		t.Errorf("the question reached the model as %q", p.Question)
	}
}
