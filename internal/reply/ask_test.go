package reply

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// streamingModel writes its answer in pieces, as a model streams.
type streamingModel struct{ pieces []string }

func (m streamingModel) Complete(context.Context, chat.Prompt) (chat.Completion, error) {
	return chat.Completion{Text: strings.Join(m.pieces, "")}, nil
}

func (m streamingModel) Stream(_ context.Context, _ chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	var soFar string
	for _, p := range m.pieces {
		soFar += p
		if err := onDelta(soFar); err != nil {
			return chat.Completion{}, err
		}
	}
	return chat.Completion{Text: soFar}, nil
}

func TestAnAnswerIsShownAsItIsWrittenAndDeliveredWhole(t *testing.T) {
	pieces := strings.Split("<think>先想一想</think>Go 的 context 包用来传递取消信号。", "")
	f := newFixture(t, nil, func(c *testConfig) { c.Model = streamingModel{pieces: pieces} })
	f.out.drafts = true
	ev := event("m1", "context 是什么", clock)
	if err := f.handle(t, "r1", ev); err != nil {
		t.Fatal(err)
	}
	want := "Go 的 context 包用来传递取消信号。"
	if len(f.out.opened) != 1 || len(f.out.answers) != 1 {
		t.Fatalf("%d drafts, %d deliveries; want one of each", len(f.out.opened), len(f.out.answers))
	}
	d := f.out.opened[0]
	if len(d.shown) != len(pieces) {
		t.Errorf("the draft was shown %d texts for %d pieces", len(d.shown), len(pieces))
	}
	for _, s := range d.shown {
		if strings.Contains(s, "先想") || strings.Contains(s, "<") {
			t.Errorf("the draft showed %q: reasoning or half a tag", s)
		}
	}
	if d.shown[0] != "" || d.shown[len(d.shown)-1] != want {
		t.Errorf("the draft showed %q first and %q last; want nothing while the model thinks, then the answer", d.shown[0], d.shown[len(d.shown)-1])
	}
	if a := f.out.answers[0]; a.Draft != chat.Draft(d) || a.Text != want {
		t.Errorf("delivered %q with draft %v; want the answer, finishing the draft", a.Text, a.Draft)
	}
	turns, err := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5)
	if err != nil || len(turns) != 1 || turns[0].Answer != want {
		t.Errorf("history %+v (%v); want the answer without its reasoning", turns, err)
	}
}

func TestAModelFailureFinishesTheDraftWithWhatWentWrong(t *testing.T) {
	f := newFixture(t, func(context.Context, chat.Prompt) (string, error) {
		return "", modelFailure{kind: chat.ErrModelUnavailable}
	})
	f.out.drafts = true
	if err := f.handle(t, "r1", event("m1", "你好", clock)); err != nil {
		t.Fatal(err)
	}
	if len(f.out.answers) != 1 || f.out.answers[0].Draft == nil || !strings.Contains(f.out.answers[0].Text, "暂时不可用") {
		t.Errorf("deliveries %+v; want the failure, finishing the draft", f.out.answers)
	}
}

func TestCommandsAndRefusalsOpenNoDraft(t *testing.T) {
	f := newFixture(t, nil)
	f.out.drafts = true
	for i, text := range []string{`\help`, ""} {
		if err := f.handle(t, "r", event(string(rune('a'+i)), text, clock)); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.out.opened) != 0 || f.askedCount() != 0 {
		t.Errorf("%d drafts opened, model asked %d times, for a command and an empty message", len(f.out.opened), f.askedCount())
	}
}

// visionModel answers with how many pictures it saw.
type visionModel struct{ seen [][]chat.Image }

func (v *visionModel) Complete(_ context.Context, p chat.Prompt) (chat.Completion, error) {
	v.seen = append(v.seen, p.Images)
	return chat.Completion{Text: "看到了：" + p.Question}, nil
}

func (v *visionModel) Stream(ctx context.Context, p chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	c, _ := v.Complete(ctx, p)
	return c, onDelta(c.Text)
}

// fileStore is Files over a map of download codes, with the limits of
// dingtalk.Attachments: a size announced over the limit is refused before
// the body, a body that goes on past it fails its read.
type fileStore map[string]stored

// stored is a file in a fileStore; an unannounced one's size is not told
// before its body.
type stored struct {
	MediaType   string
	Data        []byte
	Unannounced bool
}

// limitedBody fails a read past its limit with chat.ErrFileTooLarge.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n + int(b.left), chat.ErrFileTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return nil }

// errUnknownCode is how the store refuses a code it does not know; a code
// "busy" is refused in a way worth a retry.
var errUnknownCode = errors.New("unknown downloadCode")

func (s fileStore) Download(_ context.Context, _ chat.Message, code string, maxBytes int64) (chat.File, error) {
	if code == "busy" {
		return chat.File{}, retry.Mark(errors.New("HTTP 503"))
	}
	f, ok := s[code]
	if !ok {
		return chat.File{}, errUnknownCode
	}
	size := int64(len(f.Data))
	if f.Unannounced {
		size = -1
	} else if size > maxBytes {
		return chat.File{}, chat.ErrFileTooLarge
	}
	return chat.File{MediaType: f.MediaType, Size: size, Body: &limitedBody{r: bytes.NewReader(f.Data), left: maxBytes}}, nil
}

func TestPictures(t *testing.T) {
	png := stored{MediaType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n....")}
	tests := []struct {
		name      string
		vision    bool
		pictures  []string
		text      string
		want      string
		wantSeen  int
		wantTurnQ string
	}{
		{"seen by the vision model", true, []string{"pic"}, "", "看到了：请描述这张图片。", 1, "[图片]"},
		{"with words", true, []string{"pic", "pic"}, "哪张好看", "看到了：哪张好看", 2, "[图片] 哪张好看"},
		{"without a vision model", false, []string{"pic"}, "", unsupportedText("picture"), 0, ""},
		{"too large", true, []string{"big"}, "", "抱歉，图片太大了（上限 1 MB），请压缩后再发。", 0, ""},
		{"not to be had", true, []string{"gone"}, "", pictureUnavailableText, 0, ""},
		{"not a picture", true, []string{"pdf"}, "", pictureUnavailableText, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &visionModel{}
			f := newFixture(t, nil, func(c *testConfig) {
				if tt.vision {
					c.Vision = v
					c.Files = fileStore{"pic": png, "big": {MediaType: "image/png", Data: make([]byte, 2<<20)}, "pdf": {MediaType: "application/pdf", Data: []byte("%PDF")}}
					c.MaxPictureBytes = 1 << 20
				}
			})
			ev := event("m1", tt.text, clock)
			ev.Message.Type, ev.Message.Pictures = "picture", tt.pictures
			if err := f.handle(t, "r1", ev); err != nil {
				t.Fatal(err)
			}
			if got := f.out.last(conversationID); got != tt.want {
				t.Errorf("answer %q; want %q", got, tt.want)
			}
			if tt.wantSeen > 0 && (len(v.seen) != 1 || len(v.seen[0]) != tt.wantSeen || v.seen[0][0].MediaType != "image/png") {
				t.Errorf("the vision model saw %v; want %d png pictures", v.seen, tt.wantSeen)
			}
			turns, err := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantTurnQ != "" && (len(turns) != 1 || turns[0].Question != tt.wantTurnQ) {
				t.Errorf("history %+v; want the question remembered as %q", turns, tt.wantTurnQ)
			}
		})
	}
}

func TestAPictureThatMayComeLaterIsRetried(t *testing.T) {
	f := newFixture(t, nil, func(c *testConfig) {
		c.Vision, c.Files, c.MaxPictureBytes = &visionModel{}, fileStore{}, 1<<20
	})
	ev := event("m1", "", clock)
	ev.Message.Type, ev.Message.Pictures = "picture", []string{"busy"}
	if err := f.handle(t, "r1", ev); !retry.Retryable(err) {
		t.Errorf("Handle = %v, want a retry for a download that may succeed later", err)
	}
	if len(f.out.answers) != 0 {
		t.Errorf("answered %+v before the picture could be read", f.out.answers)
	}
}
