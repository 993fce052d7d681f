package bucket

import (
	"context"
	"fmt"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

// What the tests of this package look at beyond its API.

// Has reports whether a turn for messageID is stored for owner, whether or
// not a later Clear hides it. A torn file does not count.
func (h *History) Has(ctx context.Context, owner, messageID string) (bool, error) {
	if owner == "" || messageID == "" {
		return false, fmt.Errorf("bucket: has: %w: empty owner or message id", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	files, err := h.listTurns(ctx, dirs)
	if err != nil {
		return false, fmt.Errorf("bucket: has: %w", err)
	}
	found, err := h.findTurn(ctx, dirs, files, messageID)
	if err != nil {
		return false, fmt.Errorf("bucket: has: %w", err)
	}
	return found, nil
}

// WaitPruning waits for the prunings Save started.
func (h *History) WaitPruning() { h.pruning.Wait() }

// MountAt is the objects under the folder root, through the mount.
func MountAt(tb testing.TB, root string) Objects {
	tb.Helper()
	m, err := ossmount.New(root)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
