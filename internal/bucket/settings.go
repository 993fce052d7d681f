package bucket

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Settings keep what a conversation changed of the robot's defaults (its
// system prompt, its model), in the bucket, as write-once objects: each
// change is a new object, the newest of each kind wins, and nothing is
// rewritten, so that instances changing one conversation at once never
// tear it.
//
//	<root>/settings/v1/<owner>/<millis>-system.json
//	<root>/settings/v1/<owner>/<millis>-model-<hex name>.json
//
// <owner> is the hash of the settings' owner (chat.Message.SettingsOwner):
// the conversation id with the conversation's type, so that a one-to-one
// message never reaches a group's settings, whatever conversationId it
// carries. A model's name is in the object's name, so the model needs no
// read; a system prompt is read from its object. Each change removes the
// generations of its kind it supersedes.
//
// # Settings kept before they were keyed by type
//
// Earlier builds kept a conversation's settings under the hash of its id
// alone, which does not say whether a group or a one-to-one chat wrote
// them: the same DingTalk conversation id can arrive with either type in a
// forged callback. Those legacy objects are left where they are, never
// written again, and adopted (copied into the typed folder, the newest of
// each kind) by a conversation of one type only on evidence that the
// conversation was of that type before the upgrade: a turn of the asker's
// history there (chat.SettingsKey.Witness, a history keyed by type since
// the first build) saved before this build first looked at legacy
// settings, the instant kept in <root>/settings/typed-since.json. A turn
// saved after that instant proves nothing: a forged callback may have
// written it. Without such a turn the conversation starts from the
// defaults; so a group's legacy settings are never shown to, or changed
// through, a one-to-one callback carrying the group's id, and the other
// way round. What is given up: a conversation whose askers kept no turn
// from before the upgrade (all cleared, or none asked) loses its legacy
// settings, and sets them again (docs/threat-model.md).
type Settings struct {
	objects Objects
	now     func() time.Time

	mu sync.Mutex
	// since is the instant typed settings began, once read.
	since time.Time
	// settled holds the owner and witness pairs whose legacy settings
	// need no more looking at on this instance: none, adopted, or no
	// evidence (evidence only ever disappears: a turn saved from now on
	// is saved after since).
	settled map[string]bool
}

const (
	settingsDir = "settings/" + versionDir
	// typedSincePath keeps the instant settings began to be keyed by type.
	typedSincePath = "settings/typed-since.json"
	// maxSettled bounds the memory settled takes: past it, it is
	// forgotten, and filled again at the cost of a listing per key.
	maxSettled = 10000
)

// NewSettings returns the settings kept in objects; only cfg.Now is used.
func NewSettings(objects Objects, cfg Config) *Settings {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Settings{objects: objects, now: cfg.Now, settled: map[string]bool{}}
}

type systemRecord struct {
	Version int    `json:"version"`
	Prompt  string `json:"prompt"`
	// Reset returns to the default, SYSTEM_PROMPT.
	Reset bool `json:"reset,omitempty"`
}

func (s *Settings) folder(owner string) string {
	return path.Join(settingsDir, ownerKey(owner))
}

// settingMillis is the instant a setting's object name starts with.
func settingMillis(name string) (int64, bool) {
	digits, _, ok := strings.Cut(name, "-")
	if !ok || len(digits) != millisDigits || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	return ms, err == nil
}

// settingKind is a setting's kind: "system" or "model".
func settingKind(name string) string {
	_, kind, _ := strings.Cut(strings.TrimSuffix(name, fileSuffix), "-")
	if strings.HasPrefix(kind, "model-") {
		return "model"
	}
	return kind
}

// name is a new setting's object name: the time now, at least a
// millisecond after the newest so far, so that a change always wins.
func (s *Settings) name(names []string, kind string) string {
	ms := millis(s.now())
	for _, n := range names {
		if at, ok := settingMillis(n); ok && at >= ms {
			ms = at + 1
		}
	}
	return fmt.Sprintf("%0*d-%s", millisDigits, ms, kind)
}

func checkSettingsKey(key chat.SettingsKey) error {
	if key.Owner == "" {
		return fmt.Errorf("bucket: %w: settings without an owner", ErrInvalidArgument)
	}
	return nil
}

// SetSystem sets key's system prompt; reset returns it to the default.
func (s *Settings) SetSystem(ctx context.Context, key chat.SettingsKey, prompt string, reset bool) error {
	data, err := json.Marshal(systemRecord{Version: formatVersion, Prompt: prompt, Reset: reset})
	if err != nil {
		return err
	}
	return s.write(ctx, key, "system", data)
}

// SetModel switches key's conversation to model.
func (s *Settings) SetModel(ctx context.Context, key chat.SettingsKey, model string) error {
	return s.write(ctx, key, "model-"+hex.EncodeToString([]byte(model)), []byte(`{"version":1}`))
}

func (s *Settings) write(ctx context.Context, key chat.SettingsKey, kind string, data []byte) error {
	if err := checkSettingsKey(key); err != nil {
		return err
	}
	dir := s.folder(key.Owner)
	for range 3 {
		names, err := s.list(ctx, key)
		if err != nil {
			return fmt.Errorf("bucket: settings: %w", err)
		}
		name := s.name(names, kind) + fileSuffix
		err = s.objects.Create(ctx, path.Join(dir, name), data)
		if errors.Is(err, fs.ErrExist) {
			continue // another change took that millisecond: the next one is this
		}
		if err != nil {
			return fmt.Errorf("bucket: settings: %w", err)
		}
		// The generations this one supersedes go; a failure leaves them
		// for the next change, and costs nothing but their room.
		for _, n := range names {
			if settingKind(n) == settingKind(name) && n < name {
				_ = s.objects.Remove(ctx, path.Join(dir, n))
			}
		}
		return nil
	}
	return fmt.Errorf("bucket: settings: %w", errContended)
}

// list lists key's settings, having adopted its legacy settings first if
// it has none yet.
func (s *Settings) list(ctx context.Context, key chat.SettingsKey) ([]string, error) {
	dir := s.folder(key.Owner)
	names, err := s.objects.List(ctx, dir, 0)
	if err != nil || len(names) > 0 {
		return names, err
	}
	adopted, err := s.adopt(ctx, key)
	if err != nil || !adopted {
		return nil, err
	}
	return s.objects.List(ctx, dir, 0)
}

// Load returns key's settings: one listing, and one read when a system
// prompt was set.
func (s *Settings) Load(ctx context.Context, key chat.SettingsKey) (chat.Settings, error) {
	if err := checkSettingsKey(key); err != nil {
		return chat.Settings{}, err
	}
	var set chat.Settings
	var err error
	for range 3 {
		set, err = s.load(ctx, key)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		// A change removed the prompt it superseded since the listing:
		// the newer one is in the next listing.
	}
	if err != nil {
		return chat.Settings{}, fmt.Errorf("bucket: settings: %w", err)
	}
	return set, nil
}

func (s *Settings) load(ctx context.Context, key chat.SettingsKey) (chat.Settings, error) {
	dir := s.folder(key.Owner)
	names, err := s.list(ctx, key)
	if err != nil {
		return chat.Settings{}, err
	}
	var set chat.Settings
	var system string
	for _, n := range names { // oldest first: the newest of each kind wins
		_, kind, _ := strings.Cut(strings.TrimSuffix(n, fileSuffix), "-")
		switch {
		case kind == "system":
			system = n
		case strings.HasPrefix(kind, "model-"):
			if b, err := hex.DecodeString(strings.TrimPrefix(kind, "model-")); err == nil {
				set.Model = string(b)
			}
		}
	}
	if system != "" {
		var r systemRecord
		data, err := s.objects.Read(ctx, path.Join(dir, system))
		if err != nil {
			return chat.Settings{}, err
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return chat.Settings{}, fmt.Errorf("%s: %w", system, err)
		}
		if !r.Reset {
			set.System, set.HasSystem = r.Prompt, true
		}
	}
	return set, nil
}
