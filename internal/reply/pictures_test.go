package reply

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// countingFiles counts the downloads started.
type countingFiles struct {
	fileStore
	started *atomic.Int32
}

func (c countingFiles) Download(ctx context.Context, m chat.Message, code string, maxBytes int64) (chat.File, error) {
	c.started.Add(1)
	return c.fileStore.Download(ctx, m, code, maxBytes)
}

func picture(size int, unannounced bool) stored {
	return stored{MediaType: "image/png", Data: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, size)...), Unannounced: unannounced}
}

func TestPicturesAreRefusedForWhatTheyAre(t *testing.T) {
	const mb = 1 << 20
	store := fileStore{
		"small": picture(100, false), "8mb": picture(8*mb, false), "8mb-unannounced": picture(8*mb, true),
		"11mb-unannounced": picture(11*mb, true),
	}
	repeat := func(code string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = code
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		text      string
		pictures  []string
		window    int
		want      string
		downloads int32 // at most
	}{
		{"more than a question takes", "", repeat("small", 9), 0, tooManyPicturesText(9), 0},
		{"more than the window takes", "这些图里有什么", repeat("small", 8), 8000, picturesDoNotFitText(8, 7, 8000), 0},
		{"not one fits beside the words", strings.Repeat("很长的问题", 1400), repeat("small", 1), 8000, picturesDoNotFitText(1, 0, 8000), 0},
		{"too large together, announced", "哪张好看", repeat("8mb", 3), 0, picturesTooLargeText(3), 3},
		{"too large together, found reading", "哪张好看", repeat("8mb-unannounced", 3), 0, picturesTooLargeText(3), 3},
		{"one too large, found reading", "这是什么", []string{"11mb-unannounced"}, 0, "抱歉，图片太大了（上限 10 MB），请压缩后再发。", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := &atomic.Int32{}
			v := &visionModel{}
			f := newFixture(t, nil, func(c *testConfig) {
				c.Vision, c.Files, c.MaxPictureBytes, c.MaxContextTokens = v, countingFiles{store, started}, 10*mb, tc.window
			})
			ev := event("m1", tc.text, clock)
			ev.Message.Type, ev.Message.Pictures = "richText", tc.pictures
			if err := f.handle(t, "r1", ev); err != nil {
				t.Fatal(err)
			}
			if got := f.out.last(conversationID); got != tc.want {
				t.Errorf("answer %q; want %q", got, tc.want)
			}
			if n := started.Load(); n > tc.downloads {
				t.Errorf("%d downloads started; want at most %d", n, tc.downloads)
			}
			if len(v.seen) != 0 {
				t.Errorf("the model was asked with %d pictures", len(v.seen))
			}
			if !f.svc.prompter.pictureBytes.TryAcquire(pictureBytesInFlight) {
				t.Error("the refused pictures still hold the instance's room")
			}
		})
	}
}

// holdingModel is a vision model that, while it answers, looks whether the
// instance has room for another message's pictures.
type holdingModel struct {
	svc        **Service
	roomWhile  bool
	roomLooked bool
}

func (h *holdingModel) Complete(_ context.Context, p chat.Prompt) (chat.Completion, error) {
	h.roomLooked = true
	if (*h.svc).prompter.pictureBytes.TryAcquire(pictureBytesInFlight) {
		(*h.svc).prompter.pictureBytes.Release(pictureBytesInFlight)
		h.roomWhile = true
	}
	return chat.Completion{Text: "看到了"}, nil
}

func (h *holdingModel) Stream(ctx context.Context, p chat.Prompt, _ func(string) error) (chat.Completion, error) {
	return h.Complete(ctx, p)
}

// A message's pictures hold their room on the instance while the model
// looks at them, and give it back once it answered.
func TestPicturesHoldTheirRoomUntilAnswered(t *testing.T) {
	var svc *Service
	h := &holdingModel{svc: &svc}
	f := newFixture(t, nil, func(c *testConfig) {
		c.Vision, c.Files, c.MaxPictureBytes = h, fileStore{"pic": picture(1<<20, false)}, 10<<20
	})
	svc = f.svc
	ev := event("m1", "这是什么", clock)
	ev.Message.Type, ev.Message.Pictures = "picture", []string{"pic"}
	if err := f.handle(t, "r1", ev); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "看到了" {
		t.Fatalf("answer %q", got)
	}
	if !h.roomLooked || h.roomWhile {
		t.Error("the instance had all its room for pictures while the model looked at one")
	}
	if !svc.prompter.pictureBytes.TryAcquire(pictureBytesInFlight) {
		t.Error("the answered pictures still hold the instance's room")
	}
}
