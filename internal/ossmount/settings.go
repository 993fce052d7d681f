package ossmount

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
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Settings keep what a conversation changed of the robot's defaults (its
// system prompt, its model), in the bucket, as write-once objects: each
// change is a new object, the newest of each kind wins, and nothing is
// rewritten, so that instances changing one conversation at once never
// tear it.
//
//	<root>/settings/v1/<conversation>/<millis>-system.json
//	<root>/settings/v1/<conversation>/<millis>-model-<hex name>.json
//
// <conversation> is the hash of the conversation id. A model's name is in
// the object's name, so the model needs no read; a system prompt is read
// from its object, at the same time as the listing's other work.
type Settings struct {
	objects Objects
	now     func() time.Time
}

const settingsDir = "settings/" + versionDir

// NewSettings returns the settings kept under root, the OSS mount point,
// read and written through cfg.Objects, or the mount itself when that is
// nil.
func NewSettings(root string, cfg Config) (*Settings, error) {
	objects, err := objectsAt(root, cfg.Objects)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Settings{objects: objects, now: cfg.Now}, nil
}

type systemRecord struct {
	Version int    `json:"version"`
	Prompt  string `json:"prompt"`
	// Reset returns to the default, SYSTEM_PROMPT.
	Reset bool `json:"reset,omitempty"`
}

func (s *Settings) folder(conversation string) string {
	return path.Join(settingsDir, ownerKey(conversation))
}

// name is a new setting's object name: the time now, at least a
// millisecond after the newest so far, so that a change always wins.
func (s *Settings) name(names []string, kind string) string {
	ms := millis(s.now())
	for _, n := range names {
		if at, err := strconv.ParseInt(strings.SplitN(n, "-", 2)[0], 10, 64); err == nil && at >= ms {
			ms = at + 1
		}
	}
	return fmt.Sprintf("%0*d-%s", millisDigits, ms, kind)
}

// SetSystem sets conversation's system prompt; reset returns it to the
// default.
func (s *Settings) SetSystem(ctx context.Context, conversation, prompt string, reset bool) error {
	data, err := json.Marshal(systemRecord{Version: formatVersion, Prompt: prompt, Reset: reset})
	if err != nil {
		return err
	}
	return s.write(ctx, conversation, "system", data)
}

// SetModel switches conversation to model.
func (s *Settings) SetModel(ctx context.Context, conversation, model string) error {
	return s.write(ctx, conversation, "model-"+hex.EncodeToString([]byte(model)), []byte(`{"version":1}`))
}

func (s *Settings) write(ctx context.Context, conversation, kind string, data []byte) error {
	dir := s.folder(conversation)
	for range 3 {
		names, err := s.objects.List(ctx, dir, 0)
		if err != nil {
			return fmt.Errorf("ossmount: settings: %w", err)
		}
		err = s.objects.Create(ctx, path.Join(dir, s.name(names, kind)+fileSuffix), data)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return fmt.Errorf("ossmount: settings: %w", err)
			}
			return nil
		}
		// Another change took that millisecond: the next one is this.
	}
	return fmt.Errorf("ossmount: settings: %w", errContended)
}

// Load returns conversation's settings: one listing, and one read when a
// system prompt was set.
func (s *Settings) Load(ctx context.Context, conversation string) (chat.Settings, error) {
	dir := s.folder(conversation)
	names, err := s.objects.List(ctx, dir, 0)
	if err != nil {
		return chat.Settings{}, fmt.Errorf("ossmount: settings: %w", err)
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
			return chat.Settings{}, fmt.Errorf("ossmount: settings: %w", err)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return chat.Settings{}, fmt.Errorf("ossmount: settings: %s: %w", system, err)
		}
		if !r.Reset {
			set.System, set.HasSystem = r.Prompt, true
		}
	}
	return set, nil
}
