package bucket

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"
)

// Votes keep the 👍 and 👎 pressed on the robot's answers, one vote per
// person and answer, by the day of the answer:
//
//	<root>/votes/v1/<day>/<message>-<voter>.json    the voter's lock on the answer
//	<root>/votes/v1/<day>/<message>-<voter>-L.json  their vote: L a like,
//	<root>/votes/v1/<day>/<message>-<voter>-D.json  D a dislike
//
// <message> is the first 16 hex digits of the SHA-256 of the message id
// (messageKey), <voter> those of the voter's (ownerKey): two 64-bit hashes,
// so that a day's names are short and none can be steered by an id. <day>
// is the answer's day in Asia/Shanghai (yyyymmdd), which the caller gives.
//
// # One vote per person
//
// The vote is in a name so that counting a day, or an answer, is one
// listing and no read (Count, Tally). A name that carries the vote cannot
// by itself keep a like and a dislike of one voter apart, so a vote first
// creates the lock, a name without the vote, only if absent
// (Objects.Create), with the vote inside; only the vote of the call that
// created it is ever named. Of any number of presses of one voter on one
// answer at once, likes and dislikes alike, exactly one creates the lock:
// its vote counts (counted true), the others' do not. The lock holds a
// random name of its writer too, so that a create that landed but whose
// answer was lost (the SDK tries it again and meets the lock) is still
// known for its writer's. A vote named without its lock never happens: the
// lock comes first.
//
// A voter's press that created the lock and failed before naming the vote
// (a process that died, a request that failed) leaves the vote decided but
// not counted. The voter's next press meets the lock, reads the vote in it,
// and names that vote (creating the name only if absent, so that a press
// racing the lock's creator names it once): the vote counts from then on,
// and that press reports counted false, since its own vote is not the one
// kept (a press cannot tell a retry from a second press at once, and only
// one of two presses may report counted).
//
// Through the OSS API all of this holds across instances. Through the
// mount, Create is exclusive within one instance only (see the package
// doc): two presses of one voter on two instances at once may both create
// the lock, and both name their votes. A like and a dislike of the same
// voter and answer then both stand; their order is unknown, and a count
// takes that voter as having voted neither. Two equal votes name one file
// and count once.
//
// Days older than VotesKept go, a few files per vote (oldDays).
type Votes struct {
	objects  Objects
	now      func() time.Time
	log      *slog.Logger
	location *time.Location
	old      *oldDays
}

// VotesKept is how long votes are kept: \feedback shows admins the days
// of a quarter.
const VotesKept = 90 * 24 * time.Hour

const votesDir = "votes/" + versionDir

// maxVoteLockBytes bounds a lock file: it holds a version and a word.
const maxVoteLockBytes = 256

// NewVotes returns the votes kept in objects; cfg.Now is the clock by which
// old days are pruned and a vote on a day to come refused (nil means
// time.Now), cfg.Logger receives the failures of pruning, which fail no
// vote; cfg.Keep is not used.
func NewVotes(objects Objects, cfg Config) *Votes {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Votes{
		objects: objects, now: cfg.Now, log: cfg.Logger,
		location: time.FixedZone("CST", 8*60*60),
		old:      &oldDays{objects: objects, dir: votesDir},
	}
}

// voteLock is a lock's content: the vote of the press that created it.
type voteLock struct {
	Version int    `json:"version"`
	Vote    string `json:"vote"` // "like" or "dislike"
	// Writer is a random name of the press that created the lock, so that
	// a create that landed but whose answer was lost (the SDK then tries
	// again and meets its own lock) knows the lock for its own.
	Writer string `json:"writer"`
}

const (
	likeWord    = "like"
	dislikeWord = "dislike"
	likeMark    = "L"
	dislikeMark = "D"
)

// voteNames are the names of voter's lock and of their vote on message.
func voteNames(messageID, voter string) (lock, like, dislike string) {
	pair := messageKey(messageID) + "-" + ownerKey(voter)[:messageHashDigits]
	return pair + fileSuffix, pair + "-" + likeMark + fileSuffix, pair + "-" + dislikeMark + fileSuffix
}

// Vote records voter's like (or dislike) of the answer to messageID, whose
// day (Asia/Shanghai, yyyymmdd) is day. counted says whether this vote is
// the one kept: false when the voter voted on that answer before, or at
// the same moment, whatever they voted. Then it removes a few files of a
// day past VotesKept.
//
// A day after tomorrow, or past VotesKept, is refused with
// ErrInvalidArgument: an answer's day comes from its question's createAt,
// which a forged callback chooses. A lock that cannot be used (not the
// store's) is an error wrapping ErrUnusableRecord that names it.
func (v *Votes) Vote(ctx context.Context, day, messageID, voter string, like bool) (counted bool, err error) {
	dir, err := v.dayDir(day)
	if err != nil {
		return false, fmt.Errorf("bucket: vote: %w", err)
	}
	now := v.now().In(v.location)
	switch {
	case messageID == "" || voter == "":
		return false, fmt.Errorf("bucket: vote: %w: empty message id or voter", ErrInvalidArgument)
	case day > now.AddDate(0, 0, 1).Format("20060102"):
		return false, fmt.Errorf("bucket: vote: %w: day %s is after tomorrow", ErrInvalidArgument, day)
	case day < v.cutoff(now):
		return false, fmt.Errorf("bucket: vote: %w: day %s is past the %d days kept", ErrInvalidArgument, day, VotesKept/(24*time.Hour))
	}
	defer func() {
		if err := v.old.step(ctx, v.cutoff(now)); err != nil {
			v.log.WarnContext(ctx, "bucket: remove old votes", "err", err)
		}
	}()
	lock, likeName, dislikeName := voteNames(messageID, voter)
	word, name := dislikeWord, dislikeName
	if like {
		word, name = likeWord, likeName
	}
	writer := rand.Text()
	data, err := json.Marshal(voteLock{Version: formatVersion, Vote: word, Writer: writer})
	if err != nil {
		return false, fmt.Errorf("bucket: vote: %w", err)
	}
	err = v.objects.Create(ctx, path.Join(dir, lock), data)
	switch {
	case err == nil:
		if err := v.name(ctx, dir, name); err != nil {
			return false, fmt.Errorf("bucket: vote: %w", err)
		}
		return true, nil
	case !errors.Is(err, fs.ErrExist):
		return false, fmt.Errorf("bucket: vote: %w", err)
	}
	// The voter's lock was there: name the vote it holds, in case its
	// creator could not.
	p := path.Join(dir, lock)
	data, err = readAtMost(ctx, v.objects, p, maxVoteLockBytes+1)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // removed since, with its day
	case err != nil:
		return false, fmt.Errorf("bucket: vote: %w", err)
	case len(data) == 0:
		// On the mount, a lock still being written (or whose writer died
		// writing it): its writer names its vote.
		return false, nil
	}
	var l voteLock
	if err := decodeRecord(p, data, maxVoteLockBytes, &l); err != nil {
		return false, fmt.Errorf("bucket: vote: %w", err)
	}
	switch l.Vote {
	case likeWord:
		name = likeName
	case dislikeWord:
		name = dislikeName
	default:
		return false, fmt.Errorf("bucket: vote: %w: %s holds the vote %.16q", ErrUnusableRecord, p, l.Vote)
	}
	if err := v.name(ctx, dir, name); err != nil {
		return false, fmt.Errorf("bucket: vote: %w", err)
	}
	// The same writer: this very create landed, its answer was lost, and
	// the SDK tried it again.
	return l.Writer == writer, nil
}

// name names a vote: creates its file, unless another press did.
func (v *Votes) name(ctx context.Context, dir, name string) error {
	err := v.objects.Create(ctx, path.Join(dir, name), fmt.Appendf(nil, `{"version":%d}`, formatVersion))
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// cutoff is the oldest day kept at now.
func (v *Votes) cutoff(now time.Time) string {
	return now.In(v.location).Add(-VotesKept).Format("20060102")
}

func (v *Votes) dayDir(day string) (string, error) {
	if !isDay(day) {
		return "", fmt.Errorf("%w: day %.16q is not yyyymmdd", ErrInvalidArgument, day)
	}
	return path.Join(votesDir, day), nil
}

// Count sums the likes and dislikes of day's answers (day is the answers'
// day, as Vote has it), in one listing, reading no file.
func (v *Votes) Count(ctx context.Context, day string) (likes, dislikes int, err error) {
	return v.count(ctx, day, "")
}

// Tally sums the likes and dislikes of the answer to messageID, of day, in
// one listing of the day, reading no file.
func (v *Votes) Tally(ctx context.Context, day, messageID string) (likes, dislikes int, err error) {
	if messageID == "" {
		return 0, 0, fmt.Errorf("bucket: tally votes: %w: empty message id", ErrInvalidArgument)
	}
	return v.count(ctx, day, messageKey(messageID))
}

// count sums the votes named in day's folder, of the answer whose key is
// message, or of every answer when message is "". A voter whose like and
// dislike both stand (two instances at once through the mount) counts for
// neither.
func (v *Votes) count(ctx context.Context, day, message string) (likes, dislikes int, err error) {
	dir, err := v.dayDir(day)
	if err != nil {
		return 0, 0, fmt.Errorf("bucket: count votes: %w", err)
	}
	names, err := v.objects.List(ctx, dir, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("bucket: count votes: %w", err)
	}
	votes := map[string]string{} // by "<message>-<voter>": L, D, or "" for both
	for _, n := range names {
		pair, mark, ok := parseVoteName(n)
		if !ok || (message != "" && !strings.HasPrefix(pair, message+"-")) {
			continue
		}
		if seen, dup := votes[pair]; dup && seen != mark {
			mark = ""
		}
		votes[pair] = mark
	}
	for _, mark := range votes {
		switch mark {
		case likeMark:
			likes++
		case dislikeMark:
			dislikes++
		}
	}
	return likes, dislikes, nil
}

// voteNameLen is the length of a vote's name: <16 hex>-<16 hex>-<L|D>.json.
const voteNameLen = 2*messageHashDigits + 1 + 2 + len(fileSuffix)

// parseVoteName reads a vote's name: the message's and voter's keys, and
// the vote; ok is false for any other name (a lock, a stray file).
func parseVoteName(name string) (pair, mark string, ok bool) {
	if len(name) != voteNameLen || !strings.HasSuffix(name, fileSuffix) {
		return "", "", false
	}
	pair, mark = name[:2*messageHashDigits+1], name[2*messageHashDigits+2:2*messageHashDigits+3]
	if pair[messageHashDigits] != '-' || name[2*messageHashDigits+1] != '-' ||
		!isLowerHex(pair[:messageHashDigits]) || !isLowerHex(pair[messageHashDigits+1:]) ||
		(mark != likeMark && mark != dislikeMark) {
		return "", "", false
	}
	return pair, mark, true
}
