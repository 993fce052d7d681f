package dingtalk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// RegistrationMarks remember, across instances, the card callback URLs
// registered with DingTalk (bucket.Registrations).
type RegistrationMarks interface {
	Registered(ctx context.Context, key string) (bool, error)
	MarkRegistered(ctx context.Context, key string) error
}

// Registrar registers where DingTalk sends the presses of the cards'
// buttons (RegisterCardCallback, docs/protocols.md §18), so that the
// operator makes no API call by hand: once a day per route key, URL and
// secret across instances (the marks), and after that, in this process,
// not even a look at the marks. A day's mark, not one forever: another
// deployment that took the route key, or a URL changed and changed back,
// is set right by the next day's registration. Registering again is
// harmless (forceUpdate), so two instances doing it at once are fine. A
// registration that failed (the app lacks Card.Instance.Write, say) is
// not tried again for a while: each try is a metered call.
type Registrar struct {
	OpenAPI  *OpenAPI
	RouteKey string
	Secret   string
	Marks    RegistrationMarks
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	done   map[string]bool
	failed map[string]time.Time
}

// registrationBackoff is how long a failed registration is not tried
// again in this process.
const registrationBackoff = 10 * time.Minute

// Ensure registers url, unless it is registered already.
func (r *Registrar) Ensure(ctx context.Context, url string) error {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at := now()
	secret := sha256.Sum256([]byte(r.Secret))
	// The secret goes into the key as a hash: a new secret registers
	// again, and the marks never hold it.
	key := r.RouteKey + "\x00" + url + "\x00" + hex.EncodeToString(secret[:]) + "\x00" + at.UTC().Format("20060102")
	r.mu.Lock()
	done, failedAt := r.done[key], r.failed[key]
	r.mu.Unlock()
	if done || (!failedAt.IsZero() && at.Sub(failedAt) < registrationBackoff) {
		return nil
	}
	if ok, err := r.Marks.Registered(ctx, key); err == nil && ok {
		r.remember(key)
		return nil
	}
	if err := r.OpenAPI.RegisterCardCallback(ctx, r.RouteKey, url, r.Secret); err != nil {
		r.mu.Lock()
		if r.failed == nil {
			r.failed = make(map[string]time.Time)
		}
		r.failed[key] = at
		r.mu.Unlock()
		return fmt.Errorf("register the card callback URL (not tried again for %v): %w", registrationBackoff, err)
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
