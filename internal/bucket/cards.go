package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Cards keep, for each card the robot made with buttons, the question it
// answers, so that a press, which carries only the card's outTrackId and
// the presser's userId, finds whose question it is on any instance:
//
//	<root>/cards/v1/<day>/<card>.json
//
// <card> is the hex SHA-256 of the outTrackId, <day> the UTC day (yyyymmdd)
// the card was kept. The press does not know that day, so Find reads the
// card's name in each of the days a card is kept, at once. Each file is
// created only if absent (Objects.Create) and never rewritten: the first
// record of a card stays, through the OSS API across instances, through
// the mount within one instance (see the package doc); a card's outTrackId
// is the robot's own, made once per card, so a second Keep of it is a
// retry of the first. Days older than CardsKept go, a few files per Keep
// (oldDays). cards/v1/registered (Registrations) is no day and is never
// pruned.
type Cards struct {
	objects Objects
	log     *slog.Logger
	old     *oldDays
}

// CardsKept is how long a card's record is kept: a press on an older card
// finds nothing. A week covers the answers a user still scrolls back to;
// DingTalk keeps the card on screen longer, but a vote on a week-old
// answer is rare, and a tool waits for a decision a minute at most.
const CardsKept = 7 * 24 * time.Hour

// cardsDays is how many days Find reads: the day now is in and the days
// back to the one now-CardsKept is in.
const cardsDays = int(CardsKept/(24*time.Hour)) + 1

// cardClockSlack is how far ahead of the reader's clock the writer's may
// be: a card kept just after midnight on an instance whose clock runs a
// little ahead is still found by a press read just before it.
const cardClockSlack = time.Minute

// MaxCardRecordBytes bounds a card's file: its ids and owner are short
// (DingTalk's ids are tens of bytes); Keep refuses a larger record, and a
// larger file is not read past the bound.
const MaxCardRecordBytes = 64 << 10

const cardsDir = "cards/" + versionDir

// NewCards returns the card records kept in objects; cfg.Logger receives
// the failures of pruning, which fail no Keep (cfg.Keep and cfg.Now are
// not used: Keep and Find are given the time).
func NewCards(objects Objects, cfg Config) *Cards {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cards{objects: objects, log: cfg.Logger, old: &oldDays{objects: objects, dir: cardsDir}}
}

// cardFile is a card's file.
type cardFile struct {
	Version int `json:"version"`
	// OutTrackID is the card's id, which the name holds only hashed: a
	// file found under a card's name is checked to be that card's.
	OutTrackID       string                `json:"outTrackId"`
	MessageID        string                `json:"messageId"`
	ConversationID   string                `json:"conversationId"`
	ConversationType chat.ConversationType `json:"conversationType"`
	Owner            string                `json:"owner"`
	AskerStaffID     string                `json:"askerStaffId,omitempty"`
	SenderID         string                `json:"senderId,omitempty"`
	AskedAt          time.Time             `json:"askedAt"`
	KeptAt           time.Time             `json:"keptAt"`
}

func (f cardFile) record() chat.CardRecord {
	return chat.CardRecord{
		MessageID: f.MessageID, ConversationID: f.ConversationID, ConversationType: f.ConversationType,
		Owner: f.Owner, AskerStaffID: f.AskerStaffID, SenderID: f.SenderID, AskedAt: f.AskedAt,
	}
}

func cardName(outTrackID string) string { return ownerKey(outTrackID) + fileSuffix }

// utcDay is t's day in UTC as a folder name; ok is false for an instant
// whose year does not have four digits.
func utcDay(t time.Time) (string, bool) {
	day := t.UTC().Format("20060102")
	return day, isDay(day) && t.UTC().Year() >= 1000
}

// Keep records that the card outTrackID answers rec's question, at at:
// when the card is made, on the caller's clock (not the question's
// createAt, which a forged callback chooses), before the card is sent, so
// that no press comes before its record. A card kept already keeps its
// first record. Then it removes a few files of a day past CardsKept.
//
// rec's strings must be UTF-8 (JSON would change the others, and Owner
// read back would name another owner): DingTalk's ids are, and a callback
// decoded from JSON has no others.
func (c *Cards) Keep(ctx context.Context, outTrackID string, rec chat.CardRecord, at time.Time) error {
	day, ok := utcDay(at)
	switch {
	case outTrackID == "":
		return fmt.Errorf("bucket: keep a card: %w: empty outTrackId", ErrInvalidArgument)
	case rec.MessageID == "" || rec.Owner == "":
		return fmt.Errorf("bucket: keep a card: %w: empty message id or owner", ErrInvalidArgument)
	case rec.ConversationType != chat.SingleChat && rec.ConversationType != chat.GroupChat:
		return fmt.Errorf("bucket: keep a card: %w: conversation type %q", ErrInvalidArgument, rec.ConversationType)
	case !ok:
		return fmt.Errorf("bucket: keep a card: %w: the time %v has no four-digit year", ErrInvalidArgument, at)
	}
	for _, s := range []string{outTrackID, rec.MessageID, rec.ConversationID, rec.Owner, rec.AskerStaffID, rec.SenderID} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("bucket: keep a card: %w: an id is not UTF-8", ErrInvalidArgument)
		}
	}
	data, err := json.Marshal(cardFile{
		Version: formatVersion, OutTrackID: outTrackID,
		MessageID: rec.MessageID, ConversationID: rec.ConversationID, ConversationType: rec.ConversationType,
		Owner: rec.Owner, AskerStaffID: rec.AskerStaffID, SenderID: rec.SenderID,
		AskedAt: rec.AskedAt.UTC(), KeptAt: at.UTC(),
	})
	if err != nil {
		return fmt.Errorf("bucket: keep a card: %w", err)
	}
	if len(data) > MaxCardRecordBytes {
		return fmt.Errorf("bucket: keep a card: %w: %d bytes, more than %d", ErrInvalidArgument, len(data), MaxCardRecordBytes)
	}
	if err := c.objects.Create(ctx, path.Join(cardsDir, day, cardName(outTrackID)), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: keep a card: %w", err)
	}
	oldest, _ := utcDay(at.Add(-CardsKept))
	if err := c.old.step(ctx, oldest); err != nil {
		c.log.WarnContext(ctx, "bucket: remove old cards", "err", err)
	}
	return nil
}

// cardDays are the days Find reads at now, the newest first: the day of
// now (give or take cardClockSlack) and the cardsDays-1 before it.
func cardDays(now time.Time) []string {
	newest := now.Add(cardClockSlack).UTC()
	days := make([]string, 0, cardsDays)
	for i := range cardsDays {
		if day, ok := utcDay(newest.AddDate(0, 0, -i)); ok {
			days = append(days, day)
		}
	}
	return days
}

// Find returns the record of the card outTrackID, kept within CardsKept
// before now (the caller's clock). A card it has no record of, or an empty
// id, is an error matching fs.ErrNotExist. It reads the card's name in
// each of the days it may be kept, all at once (cardsDays small reads, one
// round trip's time), and the first found wins; a record that cannot be
// used is an error wrapping ErrUnusableRecord that names the file, and a
// failure to read, when no day holds the card, is an error matching
// neither: it says nothing of the card.
func (c *Cards) Find(ctx context.Context, outTrackID string, now time.Time) (chat.CardRecord, error) {
	if outTrackID == "" {
		return chat.CardRecord{}, fmt.Errorf("bucket: find a card: %w: empty outTrackId", fs.ErrNotExist)
	}
	name := cardName(outTrackID)
	days := cardDays(now)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the reads still under way once one found the card
	type found struct {
		day  int
		file cardFile
		err  error
	}
	results := make(chan found, len(days))
	for i, day := range days {
		go func() {
			var f cardFile
			err := c.read(ctx, path.Join(cardsDir, day, name), outTrackID, &f)
			results <- found{day: i, file: f, err: err}
		}()
	}
	errs := make([]error, len(days))
	for range days {
		r := <-results
		if r.err == nil {
			return r.file.record(), nil
		}
		errs[r.day] = r.err
	}
	// The newest day's failure, for an answer that does not depend on
	// which read ended first.
	for _, err := range errs {
		if !errors.Is(err, fs.ErrNotExist) {
			return chat.CardRecord{}, fmt.Errorf("bucket: find a card: %w", err)
		}
	}
	return chat.CardRecord{}, fmt.Errorf("bucket: find a card: %w: no card of that outTrackId kept in the last %d days", fs.ErrNotExist, cardsDays)
}

// read reads the card file at p and checks that it is outTrackID's.
func (c *Cards) read(ctx context.Context, p, outTrackID string, f *cardFile) error {
	if err := readRecord(ctx, c.objects, p, MaxCardRecordBytes, f); err != nil {
		return err
	}
	switch {
	case f.OutTrackID != outTrackID:
		return fmt.Errorf("%w: %s is the record of another card", ErrUnusableRecord, p)
	case f.MessageID == "" || f.Owner == "":
		return fmt.Errorf("%w: %s names no message or no owner", ErrUnusableRecord, p)
	case f.ConversationType != chat.SingleChat && f.ConversationType != chat.GroupChat:
		return fmt.Errorf("%w: %s has conversation type %q", ErrUnusableRecord, p, f.ConversationType)
	}
	return nil
}
