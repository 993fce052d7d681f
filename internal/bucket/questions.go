package bucket

import (
	"context"
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

// Questions count, per sender and day, the questions the model answered
// and the tokens they cost, across instances, in the bucket: one write-once
// object per answered message, whose name carries its tokens, so that one
// listing gives a sender's day. A daily limit is held by slots: a question
// takes one of the day's numbered slots before the model is asked.
//
//	<root>/questions/v1/<yyyymmdd>/<sender>/<message>.<prompt>.<completion>.json
//	<root>/questions/v1/<yyyymmdd>/<sender>/slot-<n>.json
//	<root>/questions/v1/<yyyymmdd>/<sender>/slot-<n>-<message>.json
//
// <sender> is the hash of the sender's key, <message> that of the message
// id: a message recorded twice (a retry after a failure to post) is
// counted once. The day is the sender's day in Asia/Shanghai.
//
// # Slots
//
// Slot n (0 to the limit less one) is slot-<n>.json, created only if
// absent (Objects.Create): through the OSS API, of any number of
// instances trying one number at once exactly one wins, so no more
// questions than the limit hold a slot, however many come at once. The
// winner then writes slot-<n>-<message>.json, which tells a redelivered
// message its own slot from the listing alone; a slot without that marker
// (its taker died between the two) names its message inside, and is read
// before a message takes another. A question whose answer failed gives its
// slot back: the marker goes first, then the slot, so that a marker never
// names a slot another message holds.
//
// Days older than QuestionsKept are removed, one sender's folder at a
// time (see Prune).
type Questions struct {
	objects Objects

	mu sync.Mutex
	// pruned is the newest day for which no older day past QuestionsKept
	// was left: until the day changes there is nothing to prune.
	pruned string
}

// QuestionsKept is how many days of questions are kept before the current
// one: \usage reads today's, and a question sent just before midnight may
// be answered (FC retries) a little after it.
const QuestionsKept = 2

const questionsDir = "questions/" + versionDir

// NewQuestions returns the questions kept in objects.
func NewQuestions(objects Objects) *Questions { return &Questions{objects: objects} }

func questionsFolder(sender, day string) (string, error) {
	if !isDay(day) {
		return "", fmt.Errorf("bucket: %w: day %q is not yyyymmdd", ErrInvalidArgument, day)
	}
	return path.Join(questionsDir, day, ownerKey(sender)), nil
}

func isDay(day string) bool { return len(day) == 8 && strings.Trim(day, "0123456789") == "" }

// Record counts the answer to message for sender on day (yyyymmdd).
func (q *Questions) Record(ctx context.Context, sender, day, message string, u chat.Usage) error {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%d.%d%s", messageKey(message), max(u.Prompt, 0), max(u.Completion, 0), fileSuffix)
	data := fmt.Appendf(nil, `{"version":%d,"prompt":%d,"completion":%d}`, formatVersion, u.Prompt, u.Completion)
	if err := q.objects.Create(ctx, path.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: record a question: %w", err)
	}
	return nil
}

// dayFolder is a sender's day folder's listing taken apart.
type dayFolder struct {
	usage chat.DayUsage
	// answered are the messages with a record, by message key.
	answered map[string]bool
	// slots are the slots taken, by number, each with the message key its
	// marker names ("" for a slot without a marker yet).
	slots map[int]string
	// unslotted counts the answers recorded without a marked slot: those
	// of a build before slots, each of which holds one of the first
	// numbers.
	unslotted int
}

func readDayFolder(names []string) dayFolder {
	f := dayFolder{answered: map[string]bool{}, slots: map[int]string{}}
	for _, name := range names {
		base, ok := strings.CutSuffix(name, fileSuffix)
		if !ok {
			continue
		}
		if rest, ok := strings.CutPrefix(base, slotPrefix); ok {
			digits, key, marked := strings.Cut(rest, "-")
			n, err := strconv.Atoi(digits)
			if err != nil || len(digits) != slotDigits || n < 0 {
				continue
			}
			if _, seen := f.slots[n]; !seen || marked {
				f.slots[n] = key
			}
			continue
		}
		parts := strings.Split(base, ".")
		if len(parts) != 3 || f.answered[parts[0]] {
			continue
		}
		p, perr := strconv.Atoi(parts[1])
		c, cerr := strconv.Atoi(parts[2])
		if perr != nil || cerr != nil {
			continue
		}
		f.answered[parts[0]] = true
		f.usage.Questions++
		f.usage.Prompt += p
		f.usage.Completion += c
	}
	owners := map[string]bool{}
	for _, k := range f.slots {
		owners[k] = true
	}
	for k := range f.answered {
		if !owners[k] {
			f.unslotted++
		}
	}
	f.usage.Taken = len(f.slots) + f.unslotted
	return f
}

// Day sums sender's answered questions and their tokens on day, and the
// slots taken, in one listing.
func (q *Questions) Day(ctx context.Context, sender, day string) (chat.DayUsage, error) {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return chat.DayUsage{}, err
	}
	names, err := q.objects.List(ctx, dir, 0)
	if err != nil {
		return chat.DayUsage{}, fmt.Errorf("bucket: questions: %w", err)
	}
	return readDayFolder(names).usage, nil
}

const (
	slotPrefix = "slot-"
	slotDigits = 6
)

func slotName(n int) string { return fmt.Sprintf("%s%0*d%s", slotPrefix, slotDigits, n, fileSuffix) }

func slotMarker(n int, key string) string {
	return fmt.Sprintf("%s%0*d-%s%s", slotPrefix, slotDigits, n, key, fileSuffix)
}

type slotRecord struct {
	Version int    `json:"version"`
	Message string `json:"message"`
}

// Take gives message one of the limit slots of sender's day: the one it
// holds already (a redelivery), else a free one. taken is false when
// other messages hold them all. Questions answered before there were
// slots (a deployment upgraded during the day) hold one each.
func (q *Questions) Take(ctx context.Context, sender, day, message string, limit int) (taken bool, err error) {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return false, err
	}
	key := messageKey(message)
	names, err := q.objects.List(ctx, dir, 0)
	if err != nil {
		return false, fmt.Errorf("bucket: take a slot: %w", err)
	}
	f := readDayFolder(names)
	if n, ok, err := q.ownSlot(ctx, dir, f, key); err != nil || ok {
		if ok && f.slots[n] == "" {
			q.mark(ctx, dir, n, key)
		}
		return ok, err
	}
	data, err := json.Marshal(slotRecord{Version: formatVersion, Message: key})
	if err != nil {
		return false, err
	}
	// Answers counted before slots existed hold the first numbers.
	for n := f.unslotted; n < limit; n++ {
		if _, held := f.slots[n]; held {
			continue
		}
		err := q.objects.Create(ctx, path.Join(dir, slotName(n)), data)
		switch {
		case err == nil:
			q.mark(ctx, dir, n, key)
			return true, nil
		case !errors.Is(err, fs.ErrExist):
			return false, fmt.Errorf("bucket: take a slot: %w", err)
		}
		// Another question took n first: the next one, then.
	}
	return false, nil
}

// ownSlot finds the slot that message (by key) holds in f: by its marker,
// else by reading the slots without one.
func (q *Questions) ownSlot(ctx context.Context, dir string, f dayFolder, key string) (int, bool, error) {
	for n, k := range f.slots {
		if k == key {
			return n, true, nil
		}
	}
	for n, k := range f.slots {
		if k != "" {
			continue
		}
		var r slotRecord
		data, err := q.objects.Read(ctx, path.Join(dir, slotName(n)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // given back since the listing
		case err != nil:
			return 0, false, fmt.Errorf("bucket: read a slot: %w", err)
		}
		if json.Unmarshal(data, &r) == nil && r.Message == key {
			return n, true, nil
		}
		// One being written (on ossfs, seen empty for a moment) is
		// another message's: its taker is alive.
	}
	return 0, false, nil
}

// mark writes the marker of slot n for the message key. A failure is
// harmless: the slot names its message, and ownSlot reads it.
func (q *Questions) mark(ctx context.Context, dir string, n int, key string) {
	_ = q.objects.Create(ctx, path.Join(dir, slotMarker(n, key)), []byte(`{"version":1}`))
}

// GiveBack frees the slot message holds on sender's day, if any, for
// another question to take.
func (q *Questions) GiveBack(ctx context.Context, sender, day, message string) error {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return err
	}
	key := messageKey(message)
	names, err := q.objects.List(ctx, dir, 0)
	if err != nil {
		return fmt.Errorf("bucket: give a slot back: %w", err)
	}
	f := readDayFolder(names)
	n, ok, err := q.ownSlot(ctx, dir, f, key)
	if err != nil || !ok {
		return err
	}
	// The marker first: a marker left without its slot would make its
	// message believe it holds a slot another took since.
	if f.slots[n] == key {
		if err := q.objects.Remove(ctx, path.Join(dir, slotMarker(n, key))); err != nil {
			return fmt.Errorf("bucket: give a slot back: %w", err)
		}
	}
	if err := q.objects.Remove(ctx, path.Join(dir, slotName(n))); err != nil {
		return fmt.Errorf("bucket: give a slot back: %w", err)
	}
	return nil
}

// Prune removes one sender's folder of the oldest day more than
// QuestionsKept days before day (today), or that day's folder once it is
// empty. Called once per message answered, after the answer is out, it
// keeps up with what the answers write (one folder per sender and day),
// and nothing waits on removing a whole day. Once no old day is left, the
// days are not listed again until day changes: most calls cost nothing.
func (q *Questions) Prune(ctx context.Context, day string) error {
	q.mu.Lock()
	done := q.pruned == day
	q.mu.Unlock()
	if done {
		return nil
	}
	t, err := time.Parse("20060102", day)
	if err != nil {
		return nil
	}
	oldest := t.AddDate(0, 0, -QuestionsKept).Format("20060102")
	days, err := q.objects.List(ctx, questionsDir, 0)
	if err != nil {
		return err
	}
	var old string
	for _, d := range days { // sorted: the oldest first
		if isDay(d) && d < oldest {
			old = d
			break
		}
	}
	if old == "" {
		q.mu.Lock()
		q.pruned = day
		q.mu.Unlock()
		return nil
	}
	dayDir := path.Join(questionsDir, old)
	senders, err := q.objects.List(ctx, dayDir, 1)
	if err != nil {
		return err
	}
	if len(senders) == 0 {
		return q.objects.RemoveAll(ctx, dayDir)
	}
	return q.objects.RemoveAll(ctx, path.Join(dayDir, senders[0]))
}
