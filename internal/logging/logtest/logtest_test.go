package logtest_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
)

func TestBufferTakesWritesFromSeveralGoroutines(t *testing.T) {
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				logger.Info("line", "writer", i, "n", j)
				_ = logs.String()
			}
		}()
	}
	wg.Wait()
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 8*50 {
		t.Errorf("%d lines, want %d", n, 8*50)
	}
	for i := range 8 {
		if !strings.Contains(out, fmt.Sprintf("writer=%d n=49", i)) {
			t.Errorf("no last line of writer %d", i)
		}
	}
}
