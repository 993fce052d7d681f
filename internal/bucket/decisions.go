package bucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Decisions keep the decisions on the tools the model asks to use, for
// each asker in each conversation, in the bucket, so that the instance
// whose answer waits for a decision sees one made on any other (a card's
// approve or deny button, or \yes and \no): one write-once object per
// decision, named by the instant it was made and what it is, so that one
// listing tells whether any came after the question was put, and which
// came first.
//
//	<root>/decisions/v1/<owner>/<millis>-y.json  an approval
//	<root>/decisions/v1/<owner>/<millis>-n.json  a refusal
//
// <owner> is the hash of the asker's key in the conversation (the asker
// decides, or an admin for them). Each object is created only if absent
// (Objects.Create) and never rewritten, so two decisions at once are two
// objects, and every reader takes the earliest after the question (the
// first press wins), whichever instance reads: the order is in the names.
// Two decisions in the same millisecond are ordered by name, "n" before
// "y": the refusal wins. This holds through the OSS API and through the
// mount alike, since no two writers ever create the same name with
// different contents. Decisions older than DecisionsKept are removed by
// the next one, as Stops does.
type Decisions struct {
	objects Objects
}

// DecisionsKept is how long a decision is kept: long after any answer that
// could wait for it (CONFIRM_WAIT, within the function's time, and FC's
// retries) has ended.
const DecisionsKept = 24 * time.Hour

const decisionsDir = "decisions/" + versionDir

const (
	approveMark = "y"
	denyMark    = "n"
	// decisionNameLen is the length of <millis>-<y|n>.json.
	decisionNameLen = millisDigits + 2 + len(fileSuffix)
)

// NewDecisions returns the decisions kept in objects.
func NewDecisions(objects Objects) *Decisions { return &Decisions{objects: objects} }

func (d *Decisions) folder(owner string) string { return path.Join(decisionsDir, ownerKey(owner)) }

// Decide records owner's decision at at (on the caller's clock: when the
// press or the message arrived, not a createAt a forged callback
// chooses) to run the tool the model asked for (approve) or not, and
// removes the decisions older than DecisionsKept before at. The same
// decision recorded again is no error.
func (d *Decisions) Decide(ctx context.Context, owner string, at time.Time, approve bool) error {
	if owner == "" {
		return fmt.Errorf("bucket: decide: %w: empty owner", ErrInvalidArgument)
	}
	dir := d.folder(owner)
	names, err := d.objects.List(ctx, dir, 0)
	if err != nil {
		return fmt.Errorf("bucket: decisions: %w", err)
	}
	mark := denyMark
	if approve {
		mark = approveMark
	}
	data := fmt.Appendf(nil, `{"version":%d}`, formatVersion)
	name := formatMillis(millis(at)) + "-" + mark + fileSuffix
	if err := d.objects.Create(ctx, path.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: decide: %w", err)
	}
	if err := pruneBefore(ctx, d.objects, dir, names, millis(at.Add(-DecisionsKept)), decisionMillis); err != nil {
		return fmt.Errorf("bucket: remove an old decision: %w", err)
	}
	return nil
}

// DecidedSince reports whether owner decided after since, and if so the
// earliest such decision (approve true to run the tool), in one listing.
func (d *Decisions) DecidedSince(ctx context.Context, owner string, since time.Time) (decided, approve bool, err error) {
	if owner == "" {
		return false, false, fmt.Errorf("bucket: decisions: %w: empty owner", ErrInvalidArgument)
	}
	names, err := d.objects.List(ctx, d.folder(owner), 0)
	if err != nil {
		return false, false, fmt.Errorf("bucket: decisions: %w", err)
	}
	after := millis(since)
	first := ""
	for _, name := range names {
		if ms, ok := decisionMillis(name); ok && ms > after && (first == "" || name < first) {
			first = name
		}
	}
	if first == "" {
		return false, false, nil
	}
	return true, strings.HasSuffix(first, "-"+approveMark+fileSuffix), nil
}

// decisionMillis is the instant a decision's object name holds; ok is
// false for any other name.
func decisionMillis(name string) (int64, bool) {
	if len(name) != decisionNameLen || name[millisDigits] != '-' || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	if mark := name[millisDigits+1 : millisDigits+2]; mark != approveMark && mark != denyMark {
		return 0, false
	}
	return parseMillis(name[:millisDigits])
}
