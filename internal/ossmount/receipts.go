package ossmount

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Receipts keep, per DingTalk message, what the reply function has done for
// it, on the mount, so that the record holds across instances and cold
// starts (a process's memory does not: FC starts and stops instances at
// will).
//
// # Layout
//
//	<root>/messages/v1/<day>/<message>/claim.json
//	<root>/messages/v1/<day>/<message>/answer.json
//	<root>/messages/v1/<day>/<message>/sent-<n>.json
//	<root>/messages/v1/<day>/<message>/delivered.json
//
// <message> is the hex SHA-256 of the message id; <day> the UTC date of the
// message's createAt, which a redelivery carries unchanged, so it finds the
// same folder, and old days can be removed whole without listing them file
// by file. Every file is written once: a claim is deleted when released and
// may then be created anew, never rewritten.
//
// # What remains
//
// The mount does not lock across instances, so "created exclusively" holds
// within an instance but is only nearly true across two: two instances that
// receive the same message in the same instant may both claim it. FC's async
// task id, derived from msgId, keeps DingTalk's redeliveries from reaching
// the reply function at all; these receipts cover the rest (FC's
// at-least-once delivery, its retries after a failure). And a process that
// dies between posting an answer and writing sent-<n> posts that piece
// again on FC's retry: the window is one HTTP response long.
type Receipts struct {
	dir       string
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu         sync.Mutex
	lastPruned time.Time
}

// ReceiptRetention is how long receipts are kept: far longer than DingTalk
// redelivers (about a minute) or FC retries an event (maxAsyncEventAgeInSeconds,
// at most a few hours).
const ReceiptRetention = 72 * time.Hour

// NewReceipts returns the receipts kept under root, the OSS mount point.
func NewReceipts(root string, opts Config) (*Receipts, error) {
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receipts{dir: filepath.Join(root, "messages", versionDir), retention: ReceiptRetention, now: opts.Now, log: opts.Logger}, nil
}

func (r *Receipts) messageDir(m chat.Message) (string, error) {
	if m.ID == "" {
		return "", fmt.Errorf("ossmount: %w: empty message id", ErrInvalidArgument)
	}
	sum := sha256.Sum256([]byte(m.ID))
	day := "00000000"
	if !m.CreatedAt.IsZero() && m.CreatedAt.Year() > 0 && m.CreatedAt.Year() < 10000 {
		day = m.CreatedAt.UTC().Format("20060102")
	}
	return filepath.Join(r.dir, day, hex.EncodeToString(sum[:])), nil
}

type answerRecord struct {
	Version   int       `json:"version"`
	MessageID string    `json:"messageId"`
	Answer    string    `json:"answer"`
	SavedAt   time.Time `json:"savedAt"`
}

type claimRecord struct {
	Version   int       `json:"version"`
	Holder    string    `json:"holder"`
	ClaimedAt time.Time `json:"claimedAt"`
}

// Get returns what has been done for m.
func (r *Receipts) Get(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return chat.Receipt{}, err
	}
	entries, err := readDir(ctx, dir)
	if err != nil {
		return chat.Receipt{}, fmt.Errorf("ossmount: receipts: %w", err)
	}
	var rec chat.Receipt
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "delivered.json":
			rec.Delivered = true
		case name == "answer.json":
			var a answerRecord
			if err := readJSON(ctx, filepath.Join(dir, name), &a); err != nil || a.MessageID != m.ID {
				// A torn answer is as good as none: the answer is decided
				// again and the retried SaveAnswer replaces it.
				r.log.WarnContext(ctx, "ossmount: unreadable answer receipt skipped", "err", err)
				continue
			}
			rec.Answer, rec.Answered = a.Answer, true
		case strings.HasPrefix(name, "sent-") && strings.HasSuffix(name, fileSuffix):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "sent-"), fileSuffix))
			if err == nil && n+1 > rec.PartsSent {
				rec.PartsSent = n + 1
			}
		}
	}
	return rec, nil
}

// Claim takes m for holder (an invocation) unless another holder took it
// less than ttl ago: then it reports false, and the caller leaves the
// message to that holder. A claim older than ttl is taken over: its holder
// died or hung. A holder may claim again what it holds (FC's retry of the
// same invocation keeps its request id).
func (r *Receipts) Claim(ctx context.Context, m chat.Message, holder string, ttl time.Duration) (bool, error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return false, err
	}
	path := filepath.Join(dir, "claim.json")
	data, err := json.Marshal(claimRecord{Version: formatVersion, Holder: holder, ClaimedAt: r.now().UTC()})
	if err != nil {
		return false, err
	}
	for range 2 {
		err = createOnce(ctx, path, data)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("ossmount: claim: %w", err)
		}
		var c claimRecord
		readErr := readJSON(ctx, path, &c)
		switch {
		case readErr == nil && c.Holder == holder:
			return true, nil
		case readErr == nil && r.now().Sub(c.ClaimedAt) < ttl:
			return false, nil
		case readErr != nil && !errors.Is(readErr, fs.ErrNotExist):
			// A torn claim: judge its age by the file's own time.
			if info, err := os.Stat(path); err == nil && r.now().Sub(info.ModTime()) < ttl {
				return false, nil
			}
		}
		// Stale, or released meanwhile: take it over.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("ossmount: claim: remove stale claim: %w", err)
		}
	}
	return false, nil
}

// Release gives up holder's claim on m, so that FC's retry, which may run
// as another invocation, can take the message at once.
func (r *Receipts) Release(ctx context.Context, m chat.Message, holder string) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "claim.json")
	var c claimRecord
	if err := readJSON(ctx, path, &c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("ossmount: release: %w", err)
	}
	if c.Holder != holder {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ossmount: release: %w", err)
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
	data, err := json.Marshal(answerRecord{Version: formatVersion, MessageID: m.ID, Answer: answer, SavedAt: r.now().UTC()})
	if err != nil {
		return err
	}
	if err := createOnce(ctx, filepath.Join(dir, "answer.json"), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ossmount: save answer: %w", err)
	}
	return nil
}

// MarkSent records that piece n (from 0) of m's answer was posted.
func (r *Receipts) MarkSent(ctx context.Context, m chat.Message, n int) error {
	return r.mark(ctx, m, "sent-"+strconv.Itoa(n)+fileSuffix)
}

// MarkDelivered records that m is answered in full. It also removes, at
// most once an hour per instance, the receipts of days past the retention.
func (r *Receipts) MarkDelivered(ctx context.Context, m chat.Message) error {
	err := r.mark(ctx, m, "delivered.json")
	r.pruneNow(ctx)
	return err
}

func (r *Receipts) mark(ctx context.Context, m chat.Message, name string) error {
	dir, err := r.messageDir(m)
	if err != nil {
		return err
	}
	data := []byte(`{"version":1,"at":"` + r.now().UTC().Format(time.RFC3339Nano) + `"}`)
	if err := createOnce(ctx, filepath.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ossmount: mark %s: %w", strings.TrimSuffix(name, fileSuffix), err)
	}
	return nil
}

func (r *Receipts) pruneNow(ctx context.Context) {
	r.mu.Lock()
	now := r.now()
	due := now.Sub(r.lastPruned) >= time.Hour
	if due {
		r.lastPruned = now
	}
	r.mu.Unlock()
	if !due {
		return
	}
	entries, err := readDir(ctx, r.dir)
	if err != nil {
		r.log.WarnContext(ctx, "ossmount: prune receipts", "err", err)
		return
	}
	oldest := now.Add(-r.retention).UTC().Format("20060102")
	for _, e := range entries {
		if len(e.Name()) == 8 && e.Name() < oldest {
			if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
				r.log.WarnContext(ctx, "ossmount: prune receipts", "day", e.Name(), "err", err)
			}
		}
	}
}

func readJSON(ctx context.Context, path string, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
