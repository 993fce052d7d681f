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
//	<root>/decisions/v1/<owner>/<millis>-y-<decider>.json  an approval
//	<root>/decisions/v1/<owner>/<millis>-n-<decider>.json  a refusal
//
// <owner> is the hash of the key decisions are kept under (a
// conversation's), <decider> of who decided: the reader counts only the
// decisions of those who may decide (the asker, or an admin for them), in
// the same one listing. Each object is created only if absent
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
	// deciderDigits is the length of the decider's hash in a name.
	deciderDigits = 16
	// decisionNameLen is the length of <millis>-<y|n>-<decider>.json.
	decisionNameLen = millisDigits + 3 + deciderDigits + len(fileSuffix)
)

// NewDecisions returns the decisions kept in objects.
func NewDecisions(objects Objects) *Decisions { return &Decisions{objects: objects} }

func (d *Decisions) folder(owner string) string { return path.Join(decisionsDir, ownerKey(owner)) }

// Decide records owner's decision at at (on the caller's clock: when the
// press or the message arrived, not a createAt a forged callback
// chooses) to run the tool the model asked for (approve) or not, and
// removes the decisions older than DecisionsKept before at. The same
// decision recorded again is no error.
func (d *Decisions) Decide(ctx context.Context, owner, decider string, at time.Time, approve bool) error {
	if owner == "" || decider == "" {
		return fmt.Errorf("bucket: decide: %w: empty owner or decider", ErrInvalidArgument)
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
	name := formatMillis(millis(at)) + "-" + mark + "-" + deciderKey(decider) + fileSuffix
	if err := d.objects.Create(ctx, path.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: decide: %w", err)
	}
	if err := pruneBefore(ctx, d.objects, dir, names, millis(at.Add(-DecisionsKept)), decisionMillis); err != nil {
		return fmt.Errorf("bucket: remove an old decision: %w", err)
	}
	return nil
}

// DecidedSince reports whether one of deciders decided under owner after
// since, and if so the earliest such decision (approve true to run the
// tool), in one listing.
func (d *Decisions) DecidedSince(ctx context.Context, owner string, since time.Time, deciders []string) (decided, approve bool, err error) {
	if owner == "" {
		return false, false, fmt.Errorf("bucket: decisions: %w: empty owner", ErrInvalidArgument)
	}
	names, err := d.objects.List(ctx, d.folder(owner), 0)
	if err != nil {
		return false, false, fmt.Errorf("bucket: decisions: %w", err)
	}
	may := make(map[string]bool, len(deciders))
	for _, who := range deciders {
		may[deciderKey(who)] = true
	}
	after := millis(since)
	first := ""
	for _, name := range names {
		if ms, ok := decisionMillis(name); ok && ms > after && may[decisionDecider(name)] && (first == "" || name < first) {
			first = name
		}
	}
	if first == "" {
		return false, false, nil
	}
	return true, first[millisDigits+1:millisDigits+2] == approveMark, nil
}

// deciderKey is who decided, as a decision's name holds it.
func deciderKey(decider string) string { return ownerKey(decider)[:deciderDigits] }

// decisionDecider is the decider's part of a decision's name.
func decisionDecider(name string) string {
	return name[millisDigits+3 : millisDigits+3+deciderDigits]
}

// decisionMillis is the instant a decision's object name holds; ok is
// false for any other name.
func decisionMillis(name string) (int64, bool) {
	if len(name) != decisionNameLen || name[millisDigits] != '-' || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	if mark := name[millisDigits+1 : millisDigits+2]; mark != approveMark && mark != denyMark || name[millisDigits+2] != '-' {
		return 0, false
	}
	return parseMillis(name[:millisDigits])
}
