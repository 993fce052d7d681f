package reply

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// stoppableReader reads as textReader does, except a file that says
// "hang", which it reads until ctx ends, as a child process that is
// killed then.
type stoppableReader struct{ textReader }

func (r stoppableReader) Read(ctx context.Context, name string, f *os.File) (string, bool, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return "", false, err
	}
	if string(data) == "hang" {
		<-ctx.Done()
		return "", false, ctx.Err()
	}
	return string(data), false, nil
}

// A file whose reading outlasts maxReadTime is given up, its reader
// stopped, and the turn to read is free for the next file at once.
func TestAFileReadTooLongIsStoppedAndFreesTheTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := fileFixture(t, func(c *testConfig) {
			c.Reader = stoppableReader{}
			c.Files.(fileStore)["hang"] = stored{Data: []byte("hang")}
		})
		if err := f.handle(t, "r1", fileEvent("f1", "hang", "慢.txt", clock)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, "文件《慢.txt》太复杂，我在 45 秒内没能读完") {
			t.Errorf("answered %q", got)
		}
		if err := f.handle(t, "r2", fileEvent("f2", "notes", "会议.txt", clock.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.HasPrefix(got, "已读取文件《会议.txt》") {
			t.Errorf("the next file was answered %q", got)
		}
	})
}
