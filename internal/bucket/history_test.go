package bucket_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
)

// base is an arbitrary createAt all test times are counted from.
var base = time.UnixMilli(1_700_000_000_000)

func at(minute int) time.Time { return base.Add(time.Duration(minute) * time.Minute) }

func turn(id string, askedAt time.Time) chat.Turn {
	return chat.Turn{
		MessageID:  id,
		Question:   "question " + id,
		Answer:     "answer " + id,
		AskedAt:    askedAt,
		AnsweredAt: askedAt.Add(3 * time.Second),
	}
}

func newHistory(t testing.TB, root string, keep int) (*bucket.History, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	h, err := bucket.NewHistory(bucket.MountAt(t, root), bucket.Config{
		Keep:   keep,
		Now:    func() time.Time { return base },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("NewHistory: %v", err)
	}
	return h, logs
}

func mustSave(t testing.TB, h *bucket.History, owner string, turns ...chat.Turn) {
	t.Helper()
	for _, tr := range turns {
		if err := h.Save(context.Background(), owner, tr); err != nil {
			t.Fatalf("Save(%q, %q): %v", owner, tr.MessageID, err)
		}
		// Save prunes in the background: the files are counted after it.
		h.WaitPruning()
	}
}

func mustLoad(t testing.TB, h *bucket.History, owner string, n int) []chat.Turn {
	t.Helper()
	turns, err := h.Load(context.Background(), owner, n)
	if err != nil {
		t.Fatalf("Load(%q, %d): %v", owner, n, err)
	}
	return turns
}

func ids(turns []chat.Turn) []string {
	out := make([]string, len(turns))
	for i, t := range turns {
		out[i] = t.MessageID
	}
	return out
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ownerDir is the documented layout, computed independently of the package.
func ownerDir(root, owner string) string {
	return filepath.Join(root, "history", "v1", hexSHA256(owner))
}

func turnPath(root, owner string, askedAt time.Time, messageID string) string {
	name := fmt.Sprintf("%016d-%s.json", askedAt.UnixMilli(), hexSHA256(messageID)[:16])
	return filepath.Join(ownerDir(root, owner), "turns", name)
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestNewHistoryChecksItsConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := bucket.NewHistory(bucket.MountAt(t, dir), bucket.Config{Keep: -1}); !errors.Is(err, bucket.ErrInvalidArgument) {
		t.Errorf("NewHistory with Keep -1: error = %v, want ErrInvalidArgument", err)
	}
	if _, err := bucket.NewHistory(bucket.MountAt(t, dir), bucket.Config{}); err != nil {
		t.Errorf("NewHistory with a zero Config: %v", err)
	}
}

func TestLoadReturnsTurnsInAskedOrder(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	// Saved out of order; "b" and "a" share a millisecond and are ordered by id.
	mustSave(t, h, "owner",
		turn("m3", at(3)),
		turn("m1", at(1)),
		turn("b", at(2)),
		turn("m4", at(4)),
		turn("a", at(2)),
	)
	got := mustLoad(t, h, "owner", 10)
	want := []string{"m1", "a", "b", "m3", "m4"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("Load order = %v, want %v", ids(got), want)
	}
	// The whole turn comes back.
	orig := turn("m3", at(3))
	if g := got[3]; g.Question != orig.Question || g.Answer != orig.Answer ||
		!g.AskedAt.Equal(orig.AskedAt) || !g.AnsweredAt.Equal(orig.AnsweredAt) {
		t.Errorf("loaded turn = %+v, want %+v", g, orig)
	}
}

func TestLoadLimits(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	for i := range 5 {
		mustSave(t, h, "owner", turn(fmt.Sprintf("m%d", i), at(i)))
	}
	tests := []struct {
		n    int
		want []string
	}{
		{n: -1, want: nil},
		{n: 0, want: nil},
		{n: 1, want: []string{"m4"}},
		{n: 3, want: []string{"m2", "m3", "m4"}},
		{n: 5, want: []string{"m0", "m1", "m2", "m3", "m4"}},
		{n: 100, want: []string{"m0", "m1", "m2", "m3", "m4"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("n=", tt.n), func(t *testing.T) {
			got := ids(mustLoad(t, h, "owner", tt.n))
			if len(got) == 0 {
				got = nil
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Load(n=%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
	if got := mustLoad(t, h, "stranger", 10); len(got) != 0 {
		t.Errorf("Load of an owner without history = %v, want none", ids(got))
	}
}

func TestLoadTiesInOneMillisecondAtTheWindowEdge(t *testing.T) {
	// Names within a millisecond sort by hash, not by id: the window must
	// still take the greatest ids.
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	var all []string
	for i := range 20 {
		id := fmt.Sprintf("id%02d", i)
		all = append(all, id)
		mustSave(t, h, "owner", turn(id, at(1)))
	}
	mustSave(t, h, "owner", turn("later", at(2)))
	got := ids(mustLoad(t, h, "owner", 4))
	want := append(slices.Clone(all[17:]), "later")
	if !slices.Equal(got, want) {
		t.Errorf("Load(4) = %v, want %v", got, want)
	}
}

func TestSavePrunesToKeep(t *testing.T) {
	root := t.TempDir()
	const keep = 20
	h, _ := newHistory(t, root, keep)
	for i := range 200 {
		mustSave(t, h, "owner", turn(fmt.Sprintf("m%03d", i), at(i)))
	}
	files := dirNames(t, filepath.Join(ownerDir(root, "owner"), "turns"))
	if len(files) != keep {
		t.Fatalf("%d turn files on disk, want %d", len(files), keep)
	}
	got := ids(mustLoad(t, h, "owner", 200))
	var want []string
	for i := 200 - keep; i < 200; i++ {
		want = append(want, fmt.Sprintf("m%03d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Load after pruning = %v, want the newest %d: %v", got, keep, want)
	}
}

func TestDefaultKeep(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	for i := range bucket.DefaultKeep + 5 {
		mustSave(t, h, "owner", turn(fmt.Sprint(i), at(i)))
	}
	if got := len(mustLoad(t, h, "owner", 1000)); got != bucket.DefaultKeep {
		t.Errorf("kept %d turns, want DefaultKeep = %d", got, bucket.DefaultKeep)
	}
}

func TestSaveIsIdempotentPerMessage(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	first := turn("msg", at(1))
	mustSave(t, h, "owner", first)

	again := first
	again.Answer = "a different answer from a redelivery"
	mustSave(t, h, "owner", again)
	// A redelivery whose createAt somehow differs is still the same message.
	shifted := first
	shifted.AskedAt = at(5)
	mustSave(t, h, "owner", shifted)

	got := mustLoad(t, h, "owner", 10)
	if len(got) != 1 || got[0].Answer != first.Answer || !got[0].AskedAt.Equal(first.AskedAt) {
		t.Fatalf("Load after saving one message three times = %+v, want only the first save", got)
	}
	if files := dirNames(t, filepath.Join(ownerDir(root, "owner"), "turns")); len(files) != 1 {
		t.Errorf("turn files = %v, want one", files)
	}

	for _, tt := range []struct {
		owner, id string
		want      bool
	}{
		{"owner", "msg", true},
		{"owner", "other", false},
		{"another owner", "msg", false},
	} {
		has, err := h.Has(ctx, tt.owner, tt.id)
		if err != nil || has != tt.want {
			t.Errorf("Has(%q, %q) = %v, %v; want %v", tt.owner, tt.id, has, err, tt.want)
		}
	}
}

func TestClear(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	mustSave(t, h, "alice", turn("a1", at(1)), turn("a2", at(2)), turn("a3", at(3)))
	mustSave(t, h, "bob", turn("b1", at(1)), turn("b5", at(5)))

	if err := h.Clear(ctx, "alice", at(2)); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if got := ids(mustLoad(t, h, "alice", 10)); !slices.Equal(got, []string{"a3"}) {
		t.Errorf("alice after clear at minute 2 = %v, want [a3]", got)
	}
	if got := ids(mustLoad(t, h, "bob", 10)); !slices.Equal(got, []string{"b1", "b5"}) {
		t.Errorf("bob after alice's clear = %v, want untouched [b1 b5]", got)
	}
	turns := dirNames(t, filepath.Join(ownerDir(root, "alice"), "turns"))
	if len(turns) != 1 {
		t.Errorf("alice's turn files after clear = %v, want only a3's", turns)
	}

	// Saves that were under way during the clear land after it: an older
	// message stays hidden, a newer one shows.
	mustSave(t, h, "alice", turn("late-old", at(1)), turn("exactly-at-clear", at(2)), turn("a4", at(4)))
	if got := ids(mustLoad(t, h, "alice", 10)); !slices.Equal(got, []string{"a3", "a4"}) {
		t.Errorf("alice after late saves = %v, want [a3 a4]", got)
	}
	// Another instance sees the clear too.
	other, _ := newHistory(t, root, 0)
	if got := ids(mustLoad(t, other, "alice", 10)); !slices.Equal(got, []string{"a3", "a4"}) {
		t.Errorf("alice through another instance = %v, want [a3 a4]", got)
	}

	// A later clear wins, an older one arriving late changes nothing, and
	// only the newest marker is kept.
	if err := h.Clear(ctx, "alice", at(3)); err != nil {
		t.Fatal(err)
	}
	if err := h.Clear(ctx, "alice", at(1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(mustLoad(t, h, "alice", 10)); !slices.Equal(got, []string{"a4"}) {
		t.Errorf("alice after clears at 3 and 1 = %v, want [a4]", got)
	}
	markers := dirNames(t, filepath.Join(ownerDir(root, "alice"), "cleared"))
	if want := fmt.Sprintf("%016d.json", at(3).UnixMilli()); !slices.Equal(markers, []string{want}) {
		t.Errorf("markers = %v, want only %s", markers, want)
	}

	if err := h.Clear(ctx, "nobody", at(1)); err != nil {
		t.Errorf("Clear of an owner without history: %v", err)
	}
	if got := mustLoad(t, h, "nobody", 10); len(got) != 0 {
		t.Errorf("Load after clearing an empty history = %v", ids(got))
	}
}

func TestHostileIDsStayInsideRoot(t *testing.T) {
	ctx := context.Background()
	outer := t.TempDir()
	// Deep enough that ../../.. from inside the layout would still land in
	// outer, where the walk below would see it.
	root := filepath.Join(outer, "a", "b", "c", "d", "mount")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h, _ := newHistory(t, root, 0)
	hostile := []string{
		"../../etc",
		"../../../../../../../../../tmp/x",
		"a/b",
		"/abs/path",
		".",
		"..",
		"nul\x00byte",
		"group\x00conv\x00sender",
		strings.Repeat("j", 4096),
		strings.Repeat("../", 1500),
		"\\..\\windows",
		"ünïcødé 名字",
	}
	for i, owner := range hostile {
		for j, id := range hostile {
			mustSave(t, h, owner, turn(id, at(i*len(hostile)+j)))
		}
		if err := h.Clear(ctx, owner, at(i*len(hostile))); err != nil {
			t.Fatalf("Clear(%q): %v", owner, err)
		}
	}

	// Every hostile id comes back intact, and owners stay apart.
	for i, owner := range hostile {
		got := ids(mustLoad(t, h, owner, 100))
		want := slices.Clone(hostile[1:]) // the first was cleared
		if !slices.Equal(got, want) {
			t.Errorf("owner #%d loaded %d turns, want %d hostile ids in order", i, len(got), len(want))
		}
		has, err := h.Has(ctx, owner, hostile[len(hostile)-1])
		if err != nil || !has {
			t.Errorf("Has(owner #%d, last id) = %v, %v; want true", i, has, err)
		}
	}

	nameRules := map[int]*regexp.Regexp{
		0: regexp.MustCompile(`^history$`),
		1: regexp.MustCompile(`^v1$`),
		2: regexp.MustCompile(`^[0-9a-f]{64}$`),
		3: regexp.MustCompile(`^(turns|cleared)$`),
		4: regexp.MustCompile(`^[0-9]{16}(-[0-9a-f]{16})?\.json$`),
	}
	err := filepath.WalkDir(outer, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." || (strings.HasPrefix(rel, "..") && strings.HasPrefix(root, path)) {
			return nil // root itself or one of its ancestors
		}
		if strings.HasPrefix(rel, "..") {
			t.Errorf("created outside root: %s", path)
			return nil
		}
		parts := strings.Split(rel, string(filepath.Separator))
		depth := len(parts) - 1
		rule, ok := nameRules[depth]
		if !ok || !rule.MatchString(parts[depth]) {
			t.Errorf("unexpected path under root: %q", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTornFilesAreSkipped(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	h, logs := newHistory(t, root, 0)
	mustSave(t, h, "owner", turn("m1", at(1)), turn("m2", at(2)), turn("m3", at(3)))

	// What a crashed writer leaves: a truncated object and an empty one,
	// both newer than the good turns.
	full := `{"version":1,"owner":"` + hexSHA256("owner") + `","turn":{"messageId":"torn","question":"q"`
	if err := os.WriteFile(turnPath(root, "owner", at(4), "torn"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(turnPath(root, "owner", at(5), "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A stranger's file under this owner's name is not this owner's turn.
	misplaced := `{"version":1,"owner":"` + hexSHA256("someone else") + `","turn":{"messageId":"moved"}}`
	if err := os.WriteFile(turnPath(root, "owner", at(6), "moved"), []byte(misplaced), 0o644); err != nil {
		t.Fatal(err)
	}

	if got := ids(mustLoad(t, h, "owner", 2)); !slices.Equal(got, []string{"m2", "m3"}) {
		t.Errorf("Load(2) with torn files = %v, want [m2 m3]", got)
	}
	if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Errorf("Load(10) with torn files = %v, want [m1 m2 m3]", got)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") {
		t.Errorf("skipping torn files logged no warning; logs:\n%s", out)
	}

	// A torn turn is not stored: the retried message saves it for real.
	if has, err := h.Has(ctx, "owner", "torn"); err != nil || has {
		t.Errorf("Has(torn) = %v, %v; want false", has, err)
	}
	mustSave(t, h, "owner", turn("torn", at(4)))
	if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"m1", "m2", "m3", "torn"}) {
		t.Errorf("Load after re-saving the torn turn = %v", got)
	}
}

func TestLoadShowsAMessageOnceEvenIfStoredTwice(t *testing.T) {
	// Two instances without a shared lock can both store one message (here
	// with createAt values that differ); the user must still see it once.
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	mustSave(t, h, "owner", turn("m1", at(1)))
	dup := `{"version":1,"owner":"` + hexSHA256("owner") + `","turn":{"messageId":"m1","question":"again"}}`
	if err := os.WriteFile(turnPath(root, "owner", at(2), "m1"), []byte(dup), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, h, "owner", 10); len(got) != 1 || got[0].MessageID != "m1" {
		t.Errorf("Load = %+v, want m1 once", got)
	}
}

func TestConcurrentSavesOfOneOwner(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 100)
	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Asked-at order is the reverse of the id order, and the
			// goroutines finish in any order.
			tr := turn(fmt.Sprintf("m%02d", i), at(writers-i))
			if err := h.Save(context.Background(), "owner", tr); err != nil {
				errs <- fmt.Errorf("Save(%s): %w", tr.MessageID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := mustLoad(t, h, "owner", 1000)
	if len(got) != writers {
		t.Fatalf("loaded %d turns, want %d", len(got), writers)
	}
	for i, tr := range got {
		if want := fmt.Sprintf("m%02d", writers-1-i); tr.MessageID != want {
			t.Fatalf("turn %d = %s, want %s (asked-at order)", i, tr.MessageID, want)
		}
	}
	if files := dirNames(t, filepath.Join(ownerDir(root, "owner"), "turns")); len(files) != writers {
		t.Errorf("%d turn files, want %d", len(files), writers)
	}
}

func TestConcurrentRedeliveriesStoreOnce(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.Save(context.Background(), "owner", turn("same", at(1))); err != nil {
				t.Errorf("Save: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"same"}) {
		t.Errorf("Load after 10 concurrent saves of one message = %v", got)
	}
}

func TestTwoInstancesShareTheRoot(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	first, _ := newHistory(t, root, 0)
	second, _ := newHistory(t, root, 0)

	mustSave(t, first, "owner", turn("from-first", at(1)))
	mustSave(t, second, "owner", turn("from-second", at(2)))
	// A redelivery handled by the other instance is recognized.
	mustSave(t, second, "owner", turn("from-first", at(1)))

	for name, h := range map[string]*bucket.History{"first": first, "second": second} {
		if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"from-first", "from-second"}) {
			t.Errorf("%s instance loads %v, want both instances' turns", name, got)
		}
	}
	if has, err := second.Has(ctx, "owner", "from-first"); err != nil || !has {
		t.Errorf("second.Has(first's message) = %v, %v; want true", has, err)
	}
}

func TestCanceledContext(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	mustSave(t, h, "owner", turn("m1", at(1)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := h.Load(ctx, "owner", 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Load error = %v, want context.Canceled", err)
	}
	if err := h.Save(ctx, "owner", turn("m2", at(2))); !errors.Is(err, context.Canceled) {
		t.Errorf("Save error = %v, want context.Canceled", err)
	}
	if _, err := h.Has(ctx, "owner", "m1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Has error = %v, want context.Canceled", err)
	}
	if err := h.Clear(ctx, "owner", at(5)); !errors.Is(err, context.Canceled) {
		t.Errorf("Clear error = %v, want context.Canceled", err)
	}
	if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("after canceled calls the history is %v, want [m1]", got)
	}
}

func TestEmptyArgumentsAreRefused(t *testing.T) {
	ctx := context.Background()
	h, _ := newHistory(t, t.TempDir(), 0)
	checks := map[string]error{
		"Save empty owner":  h.Save(ctx, "", turn("m", at(1))),
		"Save empty id":     h.Save(ctx, "owner", turn("", at(1))),
		"Clear empty owner": h.Clear(ctx, "", at(1)),
	}
	_, checks["Load empty owner"] = h.Load(ctx, "", 1)
	_, checks["Has empty id"] = h.Has(ctx, "owner", "")
	for name, err := range checks {
		if !errors.Is(err, bucket.ErrInvalidArgument) {
			t.Errorf("%s: error = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestZeroAskedAtStillSorts(t *testing.T) {
	root := t.TempDir()
	h, _ := newHistory(t, root, 0)
	mustSave(t, h, "owner", turn("dated", at(1)), turn("undated", time.Time{}))
	if got := ids(mustLoad(t, h, "owner", 10)); !slices.Equal(got, []string{"undated", "dated"}) {
		t.Errorf("Load = %v, want the zero time first", got)
	}
}

// BenchmarkLoad shows that loading costs the same however many turns an
// owner ever saved: pruning keeps the files on disk at Keep. Saving 100000
// turns for real (each fsynced) would take minutes; since after any number
// of saves the disk holds exactly the Keep newest turns plus whatever the
// oldest saves left, saving the last 2000 of them with the same Keep
// produces the same state.
func BenchmarkLoad(b *testing.B) {
	const keep, window = 50, 20
	for _, saved := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprint("saved=", saved), func(b *testing.B) {
			root := b.TempDir()
			h, _ := newHistory(b, root, keep)
			for i := max(saved-2000, 0); i < saved; i++ {
				mustSave(b, h, "owner", turn(fmt.Sprint(i), at(i)))
			}
			ctx := context.Background()
			for b.Loop() {
				if _, err := h.Load(ctx, "owner", window); err != nil {
					b.Fatal(err)
				}
			}
			files := len(dirNames(b, filepath.Join(ownerDir(root, "owner"), "turns")))
			b.ReportMetric(float64(files), "files")
		})
	}
}
