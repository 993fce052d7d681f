package reply

import "context"

// pending is what a message needs, being read from the bucket while the
// message is claimed: its asker's history, its conversation's settings,
// its sender's day. Reading them all at once costs the answer one round
// trip where one after another would cost one each.
type pending[T any] struct {
	done   chan struct{}
	value  T
	err    error
	cancel context.CancelFunc
}

// begin starts read.
func begin[T any](ctx context.Context, read func(context.Context) (T, error)) *pending[T] {
	ctx, cancel := context.WithCancel(ctx)
	p := &pending[T]{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		p.value, p.err = read(ctx)
	}()
	return p
}

// wait returns what was read; the zero value for a nil p, which nothing
// was read for.
func (p *pending[T]) wait(ctx context.Context) (T, error) {
	var zero T
	if p == nil {
		return zero, nil
	}
	select {
	case <-p.done:
		return p.value, p.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// stop ends a read nobody waits for any more.
func (p *pending[T]) stop() {
	if p != nil {
		p.cancel()
	}
}
