package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// The adoption of settings kept before they were keyed by type: see
// Settings.

// adopt copies the newest of each kind of key's legacy settings into key's
// folder, if there are any and key's witness shows that the conversation
// was of key's type before typed settings began. It reports whether it
// did.
func (s *Settings) adopt(ctx context.Context, key chat.SettingsKey) (bool, error) {
	if key.Conversation == "" || key.Conversation == key.Owner || strings.ContainsRune(key.Conversation, 0) {
		// Nothing kept the old way, or the old way itself; or an id
		// holding a NUL, which only a forged callback sends, and whose
		// hash could be a typed owner's ("single\x00<id>").
		return false, nil
	}
	settledKey := key.Owner + "\x00" + key.Witness
	s.mu.Lock()
	done := s.settled[settledKey]
	s.mu.Unlock()
	if done {
		return false, nil
	}
	adopted, err := s.tryAdopt(ctx, key)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	if len(s.settled) >= maxSettled {
		clear(s.settled)
	}
	s.settled[settledKey] = true
	s.mu.Unlock()
	return adopted, nil
}

func (s *Settings) tryAdopt(ctx context.Context, key chat.SettingsKey) (bool, error) {
	legacyDir := s.folder(key.Conversation)
	legacy, err := s.objects.List(ctx, legacyDir, 0)
	if err != nil || len(legacy) == 0 {
		return false, err
	}
	since, err := s.typedSince(ctx)
	if err != nil {
		return false, err
	}
	if ok, err := s.witnessed(ctx, key.Witness, since); err != nil || !ok {
		return false, err
	}
	newest := map[string]string{}
	for _, n := range legacy { // oldest first
		if _, ok := settingMillis(n); ok {
			newest[settingKind(n)] = n
		}
	}
	dir := s.folder(key.Owner)
	for _, n := range newest {
		data, err := s.objects.Read(ctx, path.Join(legacyDir, n))
		if err != nil {
			return false, err
		}
		if err := s.objects.Create(ctx, path.Join(dir, n), data); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, err
		}
	}
	return len(newest) > 0, nil
}

type typedSinceRecord struct {
	Version int       `json:"version"`
	Since   time.Time `json:"since"`
}

// typedSince is the instant settings began to be keyed by type: written
// by the first look at legacy settings of any instance, which comes before
// this build saves any turn for a conversation that has legacy settings
// (each question loads its settings first), and read once per instance.
func (s *Settings) typedSince(ctx context.Context) (time.Time, error) {
	s.mu.Lock()
	since := s.since
	s.mu.Unlock()
	if !since.IsZero() {
		return since, nil
	}
	for range 3 {
		var r typedSinceRecord
		data, err := s.objects.Read(ctx, typedSincePath)
		if errors.Is(err, fs.ErrNotExist) {
			r = typedSinceRecord{Version: formatVersion, Since: s.now().UTC()}
			data, _ = json.Marshal(r)
			err = s.objects.Create(ctx, typedSincePath, data)
			if errors.Is(err, fs.ErrExist) {
				continue // another instance wrote it first: read theirs
			}
		} else if err == nil {
			err = json.Unmarshal(data, &r)
		}
		if err != nil {
			// On ossfs a file being written may be read empty: read it
			// again next time rather than take another instant.
			return time.Time{}, fmt.Errorf("the instant typed settings began: %w", err)
		}
		s.mu.Lock()
		s.since = r.Since
		s.mu.Unlock()
		return r.Since, nil
	}
	return time.Time{}, fmt.Errorf("the instant typed settings began: %w", errContended)
}

// witnessed reports whether the history witness holds a turn saved before
// since. It reads the oldest turns by name (by createAt): in a history
// nobody forged into, the oldest by name is among the first saved.
func (s *Settings) witnessed(ctx context.Context, witness string, since time.Time) (bool, error) {
	if witness == "" {
		return false, nil
	}
	dirs := dirsOf(witness)
	names, err := s.objects.List(ctx, dirs.turns, 0)
	if err != nil {
		return false, err
	}
	slices.Sort(names)
	read := 0
	for _, n := range names {
		if _, ok := parseTurnFile(n); !ok {
			continue
		}
		if read++; read > 3 {
			break
		}
		var r turnRecord
		data, err := s.objects.Read(ctx, path.Join(dirs.turns, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		if json.Unmarshal(data, &r) != nil || r.Owner != dirs.key || r.SavedAt.IsZero() {
			continue
		}
		if r.SavedAt.Before(since) {
			return true, nil
		}
	}
	return false, nil
}
