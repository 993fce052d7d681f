package dingtalk_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// marks are RegistrationMarks in memory, shared by "instances", counting
// their looks.
type marks struct {
	mu    sync.Mutex
	keys  map[string]bool
	looks int
}

func (m *marks) Registered(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.looks++
	return m.keys[key], nil
}

func (m *marks) MarkRegistered(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]bool{}
	}
	m.keys[key] = true
	return nil
}

func TestTheCallbackURLIsRegisteredOnceADayAcrossInstances(t *testing.T) {
	fake, client := newOpenAPI(t)
	shared := &marks{}
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	instances := []*dingtalk.Registrar{
		{OpenAPI: client, RouteKey: routeKey, Secret: cardSecret, Marks: shared, Now: clock},
		{OpenAPI: client, RouteKey: routeKey, Secret: cardSecret, Marks: shared, Now: clock},
	}
	for range 3 {
		for _, r := range instances {
			if err := r.Ensure(t.Context(), callbackURL); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(fake.CardCallbackRegistrations()); n != 1 {
		t.Errorf("%d registrations by two instances, three messages each; want one", n)
	}
	if shared.looks != 2 {
		t.Errorf("the marks were looked at %d times; want once by each instance, then never again", shared.looks)
	}
	for k := range shared.keys {
		if strings.Contains(k, cardSecret) {
			t.Error("a mark holds the secret")
		}
	}
	// Another URL, or the next day, registers again.
	if err := instances[0].Ensure(t.Context(), "https://bot.example.com/card"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	if err := instances[0].Ensure(t.Context(), callbackURL); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.CardCallbackRegistrations()); n != 3 {
		t.Errorf("%d registrations; want a new URL's and the next day's too", n)
	}
	if reg, _ := fake.CardCallback(routeKey); reg.URL != callbackURL {
		t.Errorf("the route key goes to %s", reg.URL)
	}
}

func TestAFailedRegistrationIsNotTriedAgainForAWhile(t *testing.T) {
	_, client := newOpenAPI(t)
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	r := &dingtalk.Registrar{OpenAPI: client, RouteKey: routeKey, Secret: cardSecret, Marks: &marks{}, Now: func() time.Time { return now }}
	// An URL DingTalk refuses: the fake refuses an empty one without a call.
	if err := r.Ensure(t.Context(), ""); err == nil {
		t.Fatal("an empty URL was registered")
	}
	if err := r.Ensure(t.Context(), ""); err != nil {
		t.Errorf("tried again at once: %v", err)
	}
	now = now.Add(10*time.Minute + time.Second)
	if err := r.Ensure(t.Context(), ""); err == nil {
		t.Error("not tried again after the backoff")
	}
}
