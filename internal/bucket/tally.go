package bucket

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tally counts events of each calendar month across instances, in the
// bucket: the robot's metered DingTalk OpenAPI calls. An instance counts in
// memory (Add), and Sync writes what it counted since the last Sync as one
// write-once object whose name carries the count, then sums the month's
// names in one listing: no object is rewritten, and no call of the counted
// kind waits for the bucket.
//
//	<root>/usage/v1/<yyyymm>/<instance>-<seq>-<count>.json
//
// Used is the month's sum as last listed, plus what this instance counted
// since. Between two Syncs the other instances' counts are not seen: an
// instance can overshoot a budget by what the others spend in one Sync
// interval.
type Tally struct {
	objects  Objects
	instance string
	location *time.Location
	now      func() time.Time

	mu      sync.Mutex
	month   string // the month pending belongs to
	pending int    // counted since the last Sync
	listed  int    // the month's sum as last listed
	seq     int
}

// TallyConfig holds what a Tally needs.
type TallyConfig struct {
	// Instance names this process's objects; it must differ between
	// instances.
	Instance string
	// Location is where a month begins; nil means Asia/Shanghai (UTC+8),
	// where DingTalk counts.
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const tallyDir = "usage/" + versionDir

// NewTally returns the tally kept in objects.
func NewTally(objects Objects, cfg TallyConfig) (*Tally, error) {
	if cfg.Instance == "" || strings.ContainsAny(cfg.Instance, "/-") {
		return nil, fmt.Errorf("bucket: %w: a tally's instance %q must be a non-empty name without '/' or '-'", ErrInvalidArgument, cfg.Instance)
	}
	t := &Tally{objects: objects, instance: cfg.Instance, location: cfg.Location, now: cfg.Now}
	if t.location == nil {
		t.location = time.FixedZone("CST", 8*60*60)
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.month = t.monthOf(t.now())
	return t, nil
}

func (t *Tally) monthOf(at time.Time) string { return at.In(t.location).Format("200601") }

// Add counts n events now.
func (t *Tally) Add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if month := t.monthOf(t.now()); month != t.month && t.pending == 0 {
		t.month, t.listed = month, 0
	}
	t.pending += n
}

// Used is the events of the current month: the sum last listed, plus what
// this instance counted since.
func (t *Tally) Used() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.monthOf(t.now()) != t.month {
		return t.pending // a new month: nothing listed for it yet
	}
	return t.listed + t.pending
}

// Sync writes what was counted since the last Sync and lists the current
// month's sum: two requests through the OSS API.
func (t *Tally) Sync(ctx context.Context) error {
	t.mu.Lock()
	month, pending := t.month, t.pending
	var name string
	if pending > 0 {
		t.seq++
		name = fmt.Sprintf("%s-%d-%d%s", t.instance, t.seq, pending, fileSuffix)
	}
	t.pending = 0
	t.mu.Unlock()
	if pending > 0 {
		if err := t.objects.Create(ctx, path.Join(tallyDir, month, name), []byte(`{"version":1}`)); err != nil {
			t.mu.Lock()
			t.pending += pending // counted again at the next Sync
			t.mu.Unlock()
			return fmt.Errorf("bucket: tally: %w", err)
		}
	}
	current := t.monthOf(t.now())
	names, err := t.objects.List(ctx, path.Join(tallyDir, current), 0)
	if err != nil {
		return fmt.Errorf("bucket: tally: %w", err)
	}
	sum := 0
	for _, n := range names {
		parts := strings.Split(strings.TrimSuffix(n, fileSuffix), "-")
		if len(parts) != 3 {
			continue
		}
		if count, err := strconv.Atoi(parts[2]); err == nil && count > 0 {
			sum += count
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.month = current // what was pending went to the month it was counted in
	t.listed = sum
	return nil
}
