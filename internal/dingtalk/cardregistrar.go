package dingtalk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
)

// RegistrationMarks remember, across instances, the card callback URLs
// registered with DingTalk (bucket.Registrations).
type RegistrationMarks interface {
	Registered(ctx context.Context, key string) (bool, error)
	MarkRegistered(ctx context.Context, key string) error
}

// Registrar registers where DingTalk sends the presses of the cards'
// buttons (RegisterCardCallback, docs/protocols.md §18), so that the
// operator makes no API call by hand: once per route key, URL and secret
// across instances (the marks), and after that, in this process, not even
// a look at the marks. Registering again is harmless (forceUpdate), so two
// instances doing it at once are fine.
type Registrar struct {
	OpenAPI  *OpenAPI
	RouteKey string
	Secret   string
	Marks    RegistrationMarks

	mu   sync.Mutex
	done map[string]bool
}

// Ensure registers url, unless it is registered already.
func (r *Registrar) Ensure(ctx context.Context, url string) error {
	secret := sha256.Sum256([]byte(r.Secret))
	// The secret goes into the key as a hash: a new secret registers
	// again, and the marks never hold it.
	key := r.RouteKey + "\x00" + url + "\x00" + hex.EncodeToString(secret[:])
	r.mu.Lock()
	done := r.done[key]
	r.mu.Unlock()
	if done {
		return nil
	}
	if ok, err := r.Marks.Registered(ctx, key); err == nil && ok {
		r.remember(key)
		return nil
	}
	if err := r.OpenAPI.RegisterCardCallback(ctx, r.RouteKey, url, r.Secret); err != nil {
		return fmt.Errorf("register the card callback URL: %w", err)
	}
	if err := r.Marks.MarkRegistered(ctx, key); err != nil {
		return fmt.Errorf("remember the card callback URL registered: %w", err)
	}
	r.remember(key)
	return nil
}

func (r *Registrar) remember(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(map[string]bool)
	}
	r.done[key] = true
}
