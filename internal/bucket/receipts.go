package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// Receipts keep, per DingTalk message, what the reply function has done for
// it, in the bucket, so that the record holds across instances and cold
// starts (a process's memory does not: FC starts and stops instances at
// will).
//
// # Layout
//
//	<root>/messages/v1/<day>/<message>/claim-<generation>.json
//	<root>/messages/v1/<day>/<message>/answer.json
//	<root>/messages/v1/<day>/<message>/sent-<n>.json
//	<root>/messages/v1/<day>/<message>/delivered.json
//	<root>/messages/v1/<day>/<message>/intent-<n>.json
//	<root>/messages/v1/<day>/<message>/tools-<n>.json
//
// <message> is the hex SHA-256 of the message id; <day> the UTC date of the
// message's createAt, which a redelivery carries unchanged, so it finds the
// same folder, and old days can be removed whole without listing them file
// by file. Every file is written once.
//
// # The claim
//
// A claim is a chain of generations, claim-000000.json, claim-000001.json
// and so on, each created only if absent: the newest says who holds the
// message (a chat.Attempt) or that it is free. Taking a message over,
// renewing the claim, or giving it up, is creating the next generation, so
// of two instances that try at once exactly one succeeds, as long as
// Objects' Create is atomic: through the OSS API it is across every
// instance; on the mount it holds within one instance only (see the package doc).
//
// A claim is a lease: it holds for the lease its holder wrote in it, from
// when it was written, and the holder renews it (Renew) while it works, so
// that a holder that died is known for dead one lease after its last
// renewal, however long a live one takes. Whether a lease has run out is
// read on the reader's clock against the writer's: FC's clocks are kept by
// NTP, far closer than the lease's slack (see package reply).
//
// # Tool rounds
//
// While the model answers it may call tools, in rounds counted from 0
// (toolrounds.go). tools-<n>.json keeps round n whole, its calls and their
// results, written once before the model reads them; intent-<n>.json keeps
// round n's calls before they are made, for tools that are not read-only.
// An attempt that takes the message up (FC's retry, a second delivery, a
// takeover) replays the rounds recorded and makes none of their calls
// again, and calls recorded in an intent without their round (their maker
// ended during them) are never made again: their outcome is unknown. Of
// two attempts recording the same round, the first record wins and both
// continue from it. Like the claim, this rests on Create being atomic:
// through the OSS API it holds across every instance; through the mount
// within one instance only, and two instances of FC's OSS mount that both
// hold the message (which the claim, exclusive within one instance there,
// does not prevent) may both call a tool. The files go with the message's
// folder when its day is pruned.
//
// # What remains
//
// A process that dies between posting a piece of the answer and writing
// sent-<n> posts that piece again on FC's retry: the window is one HTTP
// response long. Through the mount alone (package ossmount, no OSS API) the claim is
// exclusive within one instance only.
type Receipts struct {
	objects   Objects
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu sync.Mutex
	// days is the listing of the day folders, taken at daysListed.
	days       []string
	daysListed time.Time
	// held is the generation of each claim this process wrote and holds,
	// by heldKey, so that renewing it is one create of the next.
	held map[string]int
}

// ReceiptRetention is how long receipts are kept: far longer than DingTalk
// redelivers (about a minute) or FC retries an event (maxAsyncEventAgeInSeconds,
// at most a few hours).
const ReceiptRetention = 72 * time.Hour

// receiptsDir is where the receipts are, below the root.
const receiptsDir = "messages/" + versionDir

// NewReceipts returns the receipts kept in objects; cfg.Keep is not used.
func NewReceipts(objects Objects, cfg Config) *Receipts {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receipts{objects: objects, retention: ReceiptRetention, now: cfg.Now, log: cfg.Logger, held: map[string]int{}}
}

func (r *Receipts) messageDir(m chat.Message) (string, error) {
	if m.ID == "" {
		return "", fmt.Errorf("bucket: %w: empty message id", ErrInvalidArgument)
	}
	sum := sha256.Sum256([]byte(m.ID))
	day := "00000000"
	if !m.CreatedAt.IsZero() && m.CreatedAt.Year() > 0 && m.CreatedAt.Year() < 10000 {
		day = m.CreatedAt.UTC().Format("20060102")
	}
	return path.Join(receiptsDir, day, hex.EncodeToString(sum[:])), nil
}

type answerRecord struct {
	Version   int    `json:"version"`
	MessageID string `json:"messageId"`
	// Conversation is the hash of the conversation the answer is for
	// (chat.Message.SettingsOwner); empty in an answer an older build
	// kept.
	Conversation string    `json:"conversation,omitempty"`
	Answer       string    `json:"answer"`
	SavedAt      time.Time `json:"savedAt"`
}

// claimRecord is one generation of a message's claim.
type claimRecord struct {
	Version   int          `json:"version"`
	Holder    chat.Attempt `json:"holder"`
	Free      bool         `json:"free,omitempty"`
	ClaimedAt time.Time    `json:"claimedAt"`
	// LeaseMillis is how long the claim holds from ClaimedAt unless it is
	// renewed; 0 in a claim written before claims were leases.
	LeaseMillis int64 `json:"leaseMs,omitempty"`
}

// unleasedClaim is how long a claim without a lease holds: those were
// written by builds that held a claim for TIMEOUT plus two minutes, and
// this is longer than that for any TIMEOUT within FC's function timeout.
const unleasedClaim = 5 * time.Minute

// holds reports whether c holds its message at now: it names a holder and
// its lease has not run out.
func (c claimRecord) holds(now time.Time) bool {
	lease := time.Duration(c.LeaseMillis) * time.Millisecond
	if c.LeaseMillis <= 0 {
		lease = unleasedClaim
	}
	return !c.Free && now.Sub(c.ClaimedAt) < lease
}

// heldKey names a's claim on the message whose folder is dir in held.
func heldKey(dir string, a chat.Attempt) string { return dir + "\x00" + a.String() }

// remember notes that a holds the claim on dir's message at generation
// gen; a negative gen forgets it.
func (r *Receipts) remember(dir string, a chat.Attempt, gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen < 0 {
		delete(r.held, heldKey(dir, a))
		return
	}
	r.held[heldKey(dir, a)] = gen
}

// get returns what has been done for m (Claim and Holder return it too).
func (r *Receipts) get(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return chat.Receipt{}, err
	}
	names, err := r.objects.List(ctx, dir, 0)
	if err != nil {
		return chat.Receipt{}, fmt.Errorf("bucket: receipts: %w", err)
	}
	return r.receipt(ctx, m, dir, names)
}

// receipt reads the receipt of m out of the listing of its folder.
// An answer that cannot be read for now is an error (retryable, as every
// error here): taking it for none would ask the model again.
func (r *Receipts) receipt(ctx context.Context, m chat.Message, dir string, names []string) (chat.Receipt, error) {
	var rec chat.Receipt
	for _, name := range names {
		switch {
		case name == "delivered.json":
			rec.Delivered = true
		case name == "answer.json":
			var a answerRecord
			err := r.readJSON(ctx, path.Join(dir, name), &a)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue // removed since the listing
			case err != nil && !isTorn(err):
				return rec, fmt.Errorf("bucket: read the answer: %w", err)
			case err != nil || a.MessageID != m.ID:
				// A torn answer is as good as none: the answer is decided
				// again and the retried SaveAnswer replaces it.
				r.log.WarnContext(ctx, "bucket: unreadable answer receipt skipped", "err", err)
				continue
			}
			if a.Conversation != "" && a.Conversation != ownerKey(m.SettingsOwner()) {
				// The message id is DingTalk's, unique across
				// conversations: one answered for another conversation
				// comes from a forged callback that reused it (or was
				// answered to one), and must not carry that answer
				// elsewhere. It counts as done (docs/threat-model.md).
				r.log.WarnContext(ctx, "bucket: a message id already answered in another conversation: not answered again")
				rec.Delivered = true
				return rec, nil
			}
			rec.Answer, rec.Answered = a.Answer, true
		case strings.HasPrefix(name, "sent-") && strings.HasSuffix(name, fileSuffix):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "sent-"), fileSuffix))
			if err == nil && n+1 > rec.PartsSent {
				rec.PartsSent = n + 1
			}
		default:
			// The tool rounds are counted from their names alone, at no
			// request; ToolRounds reads them.
			if n, ok := toolRoundOf(name); ok && n+1 > rec.ToolRounds {
				rec.ToolRounds = n + 1
			}
		}
	}
	return rec, nil
}

// claimPrefix and claimDigits name the generations of a claim.
const (
	claimPrefix = "claim-"
	claimDigits = 6
)

func claimName(gen int) string {
	return fmt.Sprintf("%s%0*d%s", claimPrefix, claimDigits, gen, fileSuffix)
}

// newestClaim finds the newest generation among names; gen is -1 when there
// is none.
func newestClaim(names []string) (gen int, name string) {
	gen = -1
	for _, n := range names {
		digits, ok := strings.CutPrefix(strings.TrimSuffix(n, fileSuffix), claimPrefix)
		if !ok || len(digits) != claimDigits || !strings.HasSuffix(n, fileSuffix) {
			continue
		}
		if g, err := strconv.Atoi(digits); err == nil && g > gen {
			gen, name = g, n
		}
	}
	return gen, name
}

// Claim reads what has been done for m, as get does, and, unless m is
// delivered already, takes it for attempt a, for lease, and reports
// whether a holds it now: the receipt and the claim in one listing of m's
// folder. It takes a free message; one a itself holds; one whose holder is
// an earlier attempt of the same invocation (FC retries only an attempt
// that has ended, so that one is dead); and one whose holder's lease ran
// out (it died, or lost the bucket for a whole lease). Any other holder
// keeps it: Claim then returns that holder, and the caller leaves the
// message to it.
func (r *Receipts) Claim(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) (rec chat.Receipt, holder chat.Attempt, claimed bool, err error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return rec, chat.Attempt{}, false, err
	}
	// Each round either creates the next generation or learns who created
	// it first; a few rounds settle any race.
	for round := range 4 {
		names, err := r.objects.List(ctx, dir, 0)
		if err != nil {
			return rec, chat.Attempt{}, false, fmt.Errorf("bucket: claim: %w", err)
		}
		if round == 0 {
			if rec, err = r.receipt(ctx, m, dir, names); err != nil || rec.Delivered {
				return rec, chat.Attempt{}, false, err
			}
		}
		gen, c, err := r.currentClaim(ctx, dir, names)
		if gen >= 0 {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue // gone since the listing: look again
			case err != nil && !isTorn(err):
				// Not knowing who holds it is no reason to take it.
				return rec, chat.Attempt{}, false, fmt.Errorf("bucket: claim: %w", err)
			case err != nil:
				// A torn claim holds nobody: its writer died writing it.
				r.log.WarnContext(ctx, "bucket: unreadable claim taken over", "err", err)
			case c.Holder == a && !c.Free:
				r.remember(dir, a, gen)
				return rec, a, true, nil
			case c.holds(r.now()) && !a.Retries(c.Holder):
				return rec, c.Holder, false, nil
			}
		}
		if err := r.writeClaim(ctx, dir, gen+1, claimRecord{Holder: a, LeaseMillis: lease.Milliseconds()}); err == nil {
			r.remember(dir, a, gen+1)
			return rec, a, true, nil
		} else if !errors.Is(err, fs.ErrExist) {
			return rec, chat.Attempt{}, false, fmt.Errorf("bucket: claim: %w", err)
		}
	}
	return rec, chat.Attempt{}, false, fmt.Errorf("bucket: claim: %w: still contended after several rounds", errContended)
}

// Holder returns what has been done for m, as get does, and who holds it,
// if anyone, without claiming it: a claim whose lease ran out holds nobody.
func (r *Receipts) Holder(ctx context.Context, m chat.Message) (rec chat.Receipt, holder chat.Attempt, held bool, err error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return rec, holder, false, err
	}
	names, err := r.objects.List(ctx, dir, 0)
	if err != nil {
		return rec, holder, false, fmt.Errorf("bucket: holder: %w", err)
	}
	if rec, err = r.receipt(ctx, m, dir, names); err != nil {
		return rec, holder, false, err
	}
	gen, c, err := r.currentClaim(ctx, dir, names)
	switch {
	case gen < 0:
		return rec, holder, false, nil
	case err != nil:
		return rec, holder, false, fmt.Errorf("bucket: holder: %w", err)
	}
	return rec, c.Holder, c.holds(r.now()), nil
}

// Renew extends a's claim on m by lease from now, writing the next
// generation of the claim. It returns chat.ErrNotHeld when a no longer
// holds m: another attempt took it over (a's lease ran out) or a gave it
// up.
func (r *Receipts) Renew(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	r.mu.Lock()
	gen, ok := r.held[heldKey(dir, a)]
	r.mu.Unlock()
	if !ok {
		names, err := r.objects.List(ctx, dir, 0)
		if err != nil {
			return fmt.Errorf("bucket: renew: %w", err)
		}
		var c claimRecord
		if gen, c, err = r.currentClaim(ctx, dir, names); err != nil && !isTorn(err) {
			return fmt.Errorf("bucket: renew: %w", err)
		}
		if gen < 0 || err != nil || c.Free || c.Holder != a {
			return fmt.Errorf("bucket: renew: %w", chat.ErrNotHeld)
		}
	}
	err = r.writeClaim(ctx, dir, gen+1, claimRecord{Holder: a, LeaseMillis: lease.Milliseconds()})
	if errors.Is(err, fs.ErrExist) {
		// Someone wrote it first, unless it was this very write, answered
		// with a failure and tried again.
		var c claimRecord
		if rerr := r.readClaim(ctx, path.Join(dir, claimName(gen+1)), &c); rerr != nil && !isTorn(rerr) {
			return fmt.Errorf("bucket: renew: %w", rerr)
		} else if rerr != nil || c.Free || c.Holder != a {
			r.remember(dir, a, -1)
			return fmt.Errorf("bucket: renew: %w", chat.ErrNotHeld)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("bucket: renew: %w", err)
	}
	r.remember(dir, a, gen+1)
	return nil
}

// currentClaim reads the newest generation of the claims among names, the
// listing of a message's folder; gen is -1 when there is none.
func (r *Receipts) currentClaim(ctx context.Context, dir string, names []string) (gen int, c claimRecord, err error) {
	gen, name := newestClaim(names)
	if gen >= 0 {
		err = r.readClaim(ctx, path.Join(dir, name), &c)
	}
	return gen, c, err
}

// isTorn reports whether err says a file's content is not whole: it does
// not parse. Any other error (a passing failure of the bucket) says nothing
// about the file.
func isTorn(err error) bool {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typeErr)
}

// readClaim reads a claim. Through the mount a file can be seen between
// its creation and its content (ossfs and a local folder alike create the
// file, then write it), so a claim that does not parse is read again a
// little later before it counts as torn.
func (r *Receipts) readClaim(ctx context.Context, p string, c *claimRecord) error {
	var err error
	for range 3 {
		if err = r.readJSON(ctx, p, c); err == nil || !isTorn(err) {
			return err
		}
		if retry.Sleep(ctx, 20*time.Millisecond) != nil {
			break
		}
	}
	return err
}

// errContended is wrapped by Claim's error when others kept claiming the
// message while it tried: trying again later settles it.
var errContended = errors.New("claim contended")

func (r *Receipts) writeClaim(ctx context.Context, dir string, gen int, c claimRecord) error {
	c.Version, c.ClaimedAt = formatVersion, r.now().UTC()
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return r.objects.Create(ctx, path.Join(dir, claimName(gen)), data)
}

// Release gives up a's claim on m, so that FC's retry, or another
// delivery, can take the message at once. A claim a does not hold is left
// alone.
func (r *Receipts) Release(ctx context.Context, m chat.Message, a chat.Attempt) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	names, err := r.objects.List(ctx, dir, 0)
	if err != nil {
		return fmt.Errorf("bucket: release: %w", err)
	}
	r.remember(dir, a, -1)
	gen, c, err := r.currentClaim(ctx, dir, names)
	if gen < 0 || err != nil || c.Free || c.Holder != a {
		return nil
	}
	if err := r.writeClaim(ctx, dir, gen+1, claimRecord{Free: true}); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: release: %w", err)
	}
	return nil
}

// SaveAnswer keeps the answer decided for m, before it is posted, so that a
// retry after a failed post delivers it without asking the model again.
// Saving an answer for a message that has one keeps the first.
func (r *Receipts) SaveAnswer(ctx context.Context, m chat.Message, answer string) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	data, err := json.Marshal(answerRecord{Version: formatVersion, MessageID: m.ID, Conversation: ownerKey(m.SettingsOwner()), Answer: answer, SavedAt: r.now().UTC()})
	if err != nil {
		return err
	}
	if err := r.objects.Create(ctx, path.Join(dir, "answer.json"), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: save answer: %w", err)
	}
	return nil
}

// MarkSent records that piece n (from 0) of m's answer was posted.
func (r *Receipts) MarkSent(ctx context.Context, m chat.Message, n int) error {
	return r.mark(ctx, m, "sent-"+strconv.Itoa(n)+fileSuffix)
}

// MarkDelivered records that m is answered in full, then removes one old
// message (see prune).
func (r *Receipts) MarkDelivered(ctx context.Context, m chat.Message) error {
	err := r.mark(ctx, m, "delivered.json")
	if dir, derr := r.messageDir(m); derr == nil {
		r.forget(dir)
	}
	r.prune(ctx)
	return err
}

// forget drops what held notes of the claims on dir's message: it needs
// no more renewing. The claims held at once are few (one per message in
// hand), so looking through them all is cheap.
func (r *Receipts) forget(dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.held {
		if strings.HasPrefix(k, dir+"\x00") {
			delete(r.held, k)
		}
	}
}

func (r *Receipts) mark(ctx context.Context, m chat.Message, name string) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	data := []byte(`{"version":1,"at":"` + r.now().UTC().Format(time.RFC3339Nano) + `"}`)
	if err := r.objects.Create(ctx, path.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: mark %s: %w", strings.TrimSuffix(name, fileSuffix), err)
	}
	return nil
}

// Pruning removes the receipts of days past the retention one message at
// a time: on the OSS mount a busy day is tens of thousands of folders, and
// no delivery may wait on removing them all. Each delivery removes one old
// message (one listing and one removal of a few objects, two requests
// through the API, whatever the number stored), so that what is removed
// keeps up with what was written a retention ago; the listing of the days
// is taken again once a minute. Day 00000000, a message without a createAt
// nor a time of receipt (the reply function dates one without createAt by
// when it was received), is never pruned: its age is not known.
const pruneDaysEvery = time.Minute

// prune removes the receipts of one message of the oldest day past the
// retention, or that day's folder once it is empty.
func (r *Receipts) prune(ctx context.Context) {
	if err := r.pruneStep(ctx, r.now()); err != nil {
		r.log.WarnContext(ctx, "bucket: prune receipts", "err", err)
	}
}

func (r *Receipts) pruneStep(ctx context.Context, now time.Time) error {
	oldest := now.Add(-r.retention).UTC().Format("20060102")
	day, err := r.oldDay(ctx, now, oldest)
	if err != nil || day == "" {
		return err
	}
	dayDir := path.Join(receiptsDir, day)
	messages, err := r.objects.List(ctx, dayDir, 1)
	if err != nil {
		return err
	}
	if len(messages) == 0 {
		r.mu.Lock()
		r.days = slices.DeleteFunc(r.days, func(d string) bool { return d == day })
		r.mu.Unlock()
		return r.objects.RemoveAll(ctx, dayDir)
	}
	return r.objects.RemoveAll(ctx, path.Join(dayDir, messages[0]))
}

// oldDay is the oldest day folder past the retention, from a listing of
// the days taken at most pruneDaysEvery ago; "" when there is none.
func (r *Receipts) oldDay(ctx context.Context, now time.Time, oldest string) (string, error) {
	r.mu.Lock()
	due := now.Sub(r.daysListed) >= pruneDaysEvery
	if due {
		r.daysListed = now
	}
	r.mu.Unlock()
	if due {
		days, err := r.objects.List(ctx, receiptsDir, 0)
		if err != nil {
			return "", err
		}
		r.mu.Lock()
		r.days = days
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, day := range r.days {
		if len(day) == 8 && day != "00000000" && day < oldest {
			return day, nil
		}
	}
	return "", nil
}

func (r *Receipts) readJSON(ctx context.Context, p string, v any) error {
	data, err := r.objects.Read(ctx, p)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
