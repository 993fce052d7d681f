package bucket

// The history's layout (a write-once file per turn and per \clear, see the
// package doc):
//
//	<root>/history/v1/<owner>/turns/<asked-at>-<message>.json
//	<root>/history/v1/<owner>/cleared/<cleared-at>.json
//
// where
//
//   - <owner> is the hex SHA-256 of the history owner (chat.Message.HistoryOwner),
//     and <message> the first 16 hex digits of the SHA-256 of the DingTalk
//     message id. Owners and message ids are user-controlled and may hold
//     "/", "..", NUL or kilobytes of junk; hashed, every path component is
//     short, fixed-length and safe, and one owner's files cannot be reached
//     through another owner's name.
//   - <asked-at> and <cleared-at> are Unix milliseconds (DingTalk's createAt),
//     zero-padded to 16 digits, so that sorting names sorts by time: the
//     newest turns are found from a directory listing alone, and pruning
//     knows which files are the oldest without opening them.
//   - A turn file holds {"version":1,"owner":<owner hash>,"turn":<chat.Turn>,
//     "savedAt":...}. The full message id inside it settles what the 64-bit
//     hash in the name cannot. Naming the file by the message makes a
//     redelivered message land on the same name, and the exclusive create
//     refuses it; as the mount does not lock across instances, two instances
//     may still both store one message, so Load also shows a message once.
//   - A clear marker records a \clear: turns asked at or before <cleared-at>
//     are hidden from Load. Clear also deletes them, but the marker is what
//     keeps hidden a turn whose Save was under way during the clear and
//     lands after it. Only the name of a marker counts, so even a marker
//     torn by a crash still clears: the user did ask for it.
//   - "v1" is the format version: a later layout can live beside this one.
//
// Every Save prunes its owner down to Config.Keep turns and every Clear
// prunes the owner's markers down to the newest, so loading a history costs
// the same after a year as after a day.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// DefaultKeep is the number of turns kept per owner when Config.Keep is 0.
const DefaultKeep = 50

// ErrInvalidArgument is wrapped by the errors of calls made with an empty
// owner or message id, which no store could file.
var ErrInvalidArgument = errors.New("invalid argument")

// Config tunes a History, a Receipts, a Settings, a Cards or a Votes store
// (Receipts ignores Keep, Settings uses only Now, Cards only Logger, Votes
// Now and Logger). The zero value is usable.
type Config struct {
	// Keep is how many turns are kept per owner; older ones are deleted
	// after each Save. 0 means DefaultKeep.
	Keep int
	// Now is the clock stamped into written files; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings about skipped files and failed clean-ups;
	// nil discards them.
	Logger *slog.Logger
}

// History is the conversation history store over Objects: OSS's API or
// the mount. It is safe for concurrent use, also by several
// processes over the same bucket.
type History struct {
	objects Objects
	// pruning counts the prunings under way, which Save does not wait for.
	pruning sync.WaitGroup
	keep    int
	now     func() time.Time
	logger  *slog.Logger
}

// NewHistory returns the histories kept in objects.
func NewHistory(objects Objects, cfg Config) (*History, error) {
	if cfg.Keep < 0 {
		return nil, fmt.Errorf("bucket: %w: Keep is %d, must not be negative", ErrInvalidArgument, cfg.Keep)
	}
	h := &History{objects: objects, keep: cfg.Keep, now: cfg.Now, logger: cfg.Logger}
	if h.keep == 0 {
		h.keep = DefaultKeep
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// turnRecord is the content of a turn file.
type turnRecord struct {
	Version int       `json:"version"`
	Owner   string    `json:"owner"`
	Turn    chat.Turn `json:"turn"`
	SavedAt time.Time `json:"savedAt"`
}

// markerRecord is the content of a clear marker. Readers go by its name;
// the content is there for whoever looks at the bucket.
type markerRecord struct {
	Version   int       `json:"version"`
	Owner     string    `json:"owner"`
	ClearedAt time.Time `json:"clearedAt"`
	WrittenAt time.Time `json:"writtenAt"`
}

// Load returns the last n turns of owner, oldest first, ordered by AskedAt
// then MessageID, leaving out turns hidden by Clear. A file that cannot be
// read or parsed (torn by a crashed writer) is skipped with a warning.
func (h *History) Load(ctx context.Context, owner string, n int) ([]chat.Turn, error) {
	if n <= 0 {
		return nil, nil
	}
	if owner == "" {
		return nil, fmt.Errorf("bucket: load: %w: empty owner", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	// The two listings at once: on the OSS API they are a round trip each.
	var (
		markers    []string
		markersErr error
		listing    sync.WaitGroup
	)
	listing.Add(1)
	go func() {
		defer listing.Done()
		markers, markersErr = h.listMarkers(ctx, dirs)
	}()
	files, err := h.listTurns(ctx, dirs)
	listing.Wait()
	if err = errors.Join(err, markersErr); err != nil {
		return nil, fmt.Errorf("bucket: load: %w", err)
	}
	var clearedMs int64
	cleared := len(markers) > 0
	if cleared {
		clearedMs, _ = parseMarkerName(markers[len(markers)-1])
		files = slices.DeleteFunc(files, func(f turnFile) bool { return f.askedAtMs <= clearedMs })
	}

	// Read back from the newest file, a batch at a time, the files of a
	// batch at once: names order by time, but within a millisecond by the
	// message id's hash, not by the id, so a batch ends on a millisecond's
	// edge, and is read whole before the final sort. Another batch makes up
	// for torn files and duplicates.
	var turns []chat.Turn
	seen := make(map[string]bool)
	for end := len(files); end > 0 && len(turns) < n; {
		start := max(end-(n-len(turns)), 0)
		for start > 0 && files[start-1].askedAtMs == files[start].askedAtMs {
			start--
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bucket: load: %w", err)
		}
		for _, r := range h.readTurns(ctx, dirs, files[start:end]) {
			if !r.ok || seen[r.turn.MessageID] || (cleared && millis(r.turn.AskedAt) <= clearedMs) {
				continue
			}
			seen[r.turn.MessageID] = true
			turns = append(turns, r.turn)
		}
		end = start
	}
	slices.SortFunc(turns, compareTurns)
	if len(turns) > n {
		turns = turns[len(turns)-n:]
	}
	return turns, nil
}

func compareTurns(a, b chat.Turn) int {
	if c := a.AskedAt.Compare(b.AskedAt); c != 0 {
		return c
	}
	return strings.Compare(a.MessageID, b.MessageID)
}

// Save stores t as a file of its own, written once. Saving a message id
// that owner already has stored is a no-op, so a redelivered message never
// duplicates a turn; a torn file left by a crashed save of the same message
// is replaced. After saving, the oldest turns beyond Config.Keep are
// deleted; failures to delete are logged, not returned.
func (h *History) Save(ctx context.Context, owner string, t chat.Turn) error {
	if owner == "" {
		return fmt.Errorf("bucket: save: %w: empty owner", ErrInvalidArgument)
	}
	if t.MessageID == "" {
		return fmt.Errorf("bucket: save: %w: empty message id", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	files, err := h.listTurns(ctx, dirs)
	if err != nil {
		return fmt.Errorf("bucket: save: %w", err)
	}
	// The same message may have been saved with another AskedAt (the name
	// differs then); the listing is needed for pruning anyway.
	stored, err := h.findTurn(ctx, dirs, files, t.MessageID)
	if err != nil {
		return fmt.Errorf("bucket: save: %w", err)
	}
	if stored {
		return nil
	}

	file := newTurnFile(t.AskedAt, t.MessageID)
	data, err := json.Marshal(turnRecord{Version: formatVersion, Owner: dirs.key, Turn: t, SavedAt: h.now()})
	if err != nil {
		return fmt.Errorf("bucket: save: encode turn: %w", err)
	}
	if err := h.saveTurnFile(ctx, dirs, file, t.MessageID, data); err != nil {
		return fmt.Errorf("bucket: save: %w", err)
	}

	if !slices.ContainsFunc(files, func(f turnFile) bool { return f.name == file.name }) {
		files = append(files, file)
		slices.SortFunc(files, func(a, b turnFile) int { return strings.Compare(a.name, b.name) })
	}
	// Pruning past Keep waits for nobody: the answer is posted meanwhile.
	if len(files) > h.keep {
		h.pruning.Add(1)
		go func() {
			defer h.pruning.Done()
			h.prune(context.WithoutCancel(ctx), dirs.turns, names(files), h.keep)
		}()
	}
	return nil
}

// saveTurnFile creates the turn file, settling a clash with a file of the
// same name: the same message saved concurrently (fine), or a file torn by
// a crashed save of it (replaced, so the turn is not lost).
func (h *History) saveTurnFile(ctx context.Context, dirs ownerDirs, file turnFile, messageID string, data []byte) error {
	path := path.Join(dirs.turns, file.name)
	for attempt := 0; ; attempt++ {
		err := h.objects.Create(ctx, path, data)
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		existing, ok := h.readTurn(ctx, dirs, file)
		switch {
		case ok && existing.MessageID == messageID:
			return nil
		case ok:
			// Two ids with equal 64-bit hashes asked in the same
			// millisecond: refuse rather than overwrite the other.
			return fmt.Errorf("turn file %s already holds another message", path)
		case attempt > 0:
			// Torn again right after our removal: someone else is
			// writing this very turn now.
			return nil
		}
		if err := h.objects.Remove(ctx, path); err != nil {
			return fmt.Errorf("replace torn turn file: %w", err)
		}
	}
}

// Clear hides and deletes every turn of owner asked at or before at (the
// createAt of the \clear message), and nothing of any other owner. A marker
// file keeps hidden the turns of older messages saved after the clear.
// Once the marker is written the clear holds, so failures to delete files
// are logged, not returned.
func (h *History) Clear(ctx context.Context, owner string, at time.Time) error {
	if owner == "" {
		return fmt.Errorf("bucket: clear: %w: empty owner", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	clearedMs := millis(at)
	data, err := json.Marshal(markerRecord{Version: formatVersion, Owner: dirs.key, ClearedAt: at, WrittenAt: h.now()})
	if err != nil {
		return fmt.Errorf("bucket: clear: encode marker: %w", err)
	}
	// A marker of the same name is a clear at the same instant: same effect.
	err = h.objects.Create(ctx, path.Join(dirs.cleared, markerName(clearedMs)), data)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: clear: write marker: %w", err)
	}

	if ctx.Err() != nil {
		// The marker holds the clear; the next Clear or pruning deletes the files.
		return nil
	}
	files, err := h.listTurns(ctx, dirs)
	if err != nil {
		h.logger.WarnContext(ctx, "history cleared, but listing its turns to delete them failed",
			"dir", dirs.turns, "err", err)
		return nil
	}
	var hidden []string
	for _, f := range files {
		if f.askedAtMs <= clearedMs {
			hidden = append(hidden, f.name)
		}
	}
	h.prune(ctx, dirs.turns, hidden, 0)

	markers, err := h.listMarkers(ctx, dirs)
	if err != nil {
		h.logger.WarnContext(ctx, "listing clear markers to prune them failed", "dir", dirs.cleared, "err", err)
		return nil
	}
	h.prune(ctx, dirs.cleared, markers, 1)
	return nil
}

// prune deletes the first len(sorted)-keep names of dir. A file already gone
// (deleted by another instance pruning at the same time) is fine.
func (h *History) prune(ctx context.Context, dir string, sorted []string, keep int) {
	for _, name := range sorted[:max(len(sorted)-keep, 0)] {
		if ctx.Err() != nil {
			// The next Save or Clear finishes the job.
			return
		}
		if err := h.objects.Remove(ctx, path.Join(dir, name)); err != nil {
			h.logger.WarnContext(ctx, "pruning history file failed", "dir", dir, "file", name, "err", err)
		}
	}
}

// findTurn reports whether one of files holds a readable turn of messageID.
func (h *History) findTurn(ctx context.Context, dirs ownerDirs, files []turnFile, messageID string) (bool, error) {
	key := messageKey(messageID)
	for _, f := range files {
		if f.messageKey != key {
			continue
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if t, ok := h.readTurn(ctx, dirs, f); ok && t.MessageID == messageID {
			return true, nil
		}
	}
	return false, nil
}

// readTurn reads and checks one turn file. Whatever is wrong with it is
// logged and reported as !ok: one bad file must not cost a user the rest of
// the history.
func (h *History) readTurn(ctx context.Context, dirs ownerDirs, f turnFile) (chat.Turn, bool) {
	path := path.Join(dirs.turns, f.name)
	data, err := h.objects.Read(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		// Pruned or cleared by another instance since the listing.
		return chat.Turn{}, false
	}
	if err != nil {
		h.logger.WarnContext(ctx, "skipping unreadable history file", "file", path, "err", err)
		return chat.Turn{}, false
	}
	var rec turnRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		h.logger.WarnContext(ctx, "skipping unparsable history file (torn write?)", "file", path, "size", len(data), "err", err)
		return chat.Turn{}, false
	}
	switch {
	case rec.Version != formatVersion:
		h.logger.WarnContext(ctx, "skipping history file of unknown version", "file", path, "version", rec.Version)
		return chat.Turn{}, false
	case rec.Owner != dirs.key || rec.Turn.MessageID == "" || messageKey(rec.Turn.MessageID) != f.messageKey:
		h.logger.WarnContext(ctx, "skipping history file that does not match its name", "file", path)
		return chat.Turn{}, false
	}
	return rec.Turn, true
}

// readResult is one turn file read.
type readResult struct {
	turn chat.Turn
	ok   bool
}

// maxConcurrentReads bounds the turn files one load reads at once.
const maxConcurrentReads = 16

// readTurns reads files at once, as readTurn does each, at most
// maxConcurrentReads at a time: on the OSS API a batch of up to that many
// costs one round trip, not one per file.
func (h *History) readTurns(ctx context.Context, dirs ownerDirs, files []turnFile) []readResult {
	results := make([]readResult, len(files))
	var reading sync.WaitGroup
	// A batch is about HISTORY_LENGTH files, more when many share a
	// millisecond: the reads in flight are bounded all the same, which
	// also bounds the connections one load opens.
	slots := make(chan struct{}, maxConcurrentReads)
	for i, f := range files {
		reading.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; reading.Done() }()
			results[i].turn, results[i].ok = h.readTurn(ctx, dirs, f)
		}()
	}
	reading.Wait()
	return results
}

// listTurns lists the turn files of an owner, sorted by name (so by time).
// An owner without a directory has no turns.
func (h *History) listTurns(ctx context.Context, dirs ownerDirs) ([]turnFile, error) {
	names, err := h.objects.List(ctx, dirs.turns, 0)
	if err != nil {
		return nil, err
	}
	files := make([]turnFile, 0, len(names))
	for _, name := range names {
		if f, ok := parseTurnFile(name); ok {
			files = append(files, f)
		}
	}
	return files, nil
}

// listMarkers lists the clear marker names of an owner, sorted by time.
func (h *History) listMarkers(ctx context.Context, dirs ownerDirs) ([]string, error) {
	names, err := h.objects.List(ctx, dirs.cleared, 0)
	if err != nil {
		return nil, err
	}
	var markers []string
	for _, name := range names {
		if _, ok := parseMarkerName(name); ok {
			markers = append(markers, name)
		}
	}
	return markers, nil
}

func names(files []turnFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out
}
