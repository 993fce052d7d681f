package ossmount

import (
	"context"
	"fmt"
)

// What the tests of this package look at beyond its API.

// Has reports whether a turn for messageID is stored for owner, whether or
// not a later Clear hides it. A torn file does not count.
func (h *History) Has(ctx context.Context, owner, messageID string) (bool, error) {
	if owner == "" || messageID == "" {
		return false, fmt.Errorf("ossmount: has: %w: empty owner or message id", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	files, err := h.listTurns(ctx, dirs)
	if err != nil {
		return false, fmt.Errorf("ossmount: has: %w", err)
	}
	found, err := h.findTurn(ctx, dirs, files, messageID)
	if err != nil {
		return false, fmt.Errorf("ossmount: has: %w", err)
	}
	return found, nil
}

// WaitPruning waits for the prunings Save started.
func (h *History) WaitPruning() { h.pruning.Wait() }
