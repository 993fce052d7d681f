package bucket

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestARegistrationIsMarkedOnceForEveryInstance(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		r := NewRegistrations(objects)
		key := "fcrobot-route|https://conv.example.com/card|sha256-of-secret"
		if ok, err := r.Registered(ctx, key); err != nil || ok {
			t.Fatalf("before any mark: %v, %v", ok, err)
		}
		if err := r.MarkRegistered(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := r.MarkRegistered(ctx, key); err != nil {
			t.Errorf("marked again: %v", err)
		}
		other := NewRegistrations(objects)
		if ok, err := other.Registered(ctx, key); err != nil || !ok {
			t.Errorf("another instance: registered %v, %v", ok, err)
		}
		if ok, err := other.Registered(ctx, key+"-new-url"); err != nil || ok {
			t.Errorf("another key: registered %v, %v", ok, err)
		}
		for _, err := range []error{r.MarkRegistered(ctx, ""), func() error { _, err := r.Registered(ctx, ""); return err }()} {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("an empty key: %v; want ErrInvalidArgument", err)
			}
		}
	})
}

func TestARegistrationKeepsNoneOfItsKey(t *testing.T) {
	root := t.TempDir()
	r := NewRegistrations(MountAt(t, root))
	if err := r.MarkRegistered(t.Context(), "route|https://x/card|the-secret-itself"); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if strings.Contains(p, "secret") || strings.Contains(string(data), "secret") || strings.Contains(string(data), "route") {
			t.Errorf("%s holds part of the key: %q", p, data)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestABrokenRegistrationIsAnErrorThatSaysWhich(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		r := NewRegistrations(objects)
		for i, c := range []struct{ content, why string }{
			{`{"version":1,"x":"` + strings.Repeat("x", maxRegistrationBytes) + `"}`, "larger than"},
			{`{"version"`, "does not parse"},
			{`{"version":2}`, "version 2"},
		} {
			key := strings.Repeat("k", i+1)
			p, _ := registrationPath(key)
			if err := objects.Create(t.Context(), p, []byte(c.content)); err != nil {
				t.Fatal(err)
			}
			ok, err := r.Registered(t.Context(), key)
			if ok || !errors.Is(err, ErrUnusableRecord) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("a mark holding %.30q: %v, %v; want an error naming %s and saying %q", c.content, ok, err, path.Base(p), c.why)
			}
		}
	})
}
