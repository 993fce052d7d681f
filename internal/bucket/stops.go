package bucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Stops keep the \stop requests of each asker in each conversation, in the
// bucket, so that the instance writing an answer sees a stop sent to any
// other: one write-once object per request, named by the instant the
// request was sent, so that one listing tells whether any came after a
// question.
//
//	<root>/stops/v1/<owner>/<millis>.json
//
// <owner> is the hash of the asker's key in the conversation. A request
// ends the answers to questions sent before it; those sent after it are
// untouched, so a request never needs removing to stop working. Requests
// older than StopsKept are removed by the next one.
type Stops struct {
	objects Objects
}

// StopsKept is how long a stop request is kept: long after any answer it
// could end (TIMEOUT, and FC's retries of a failed attempt) has ended.
const StopsKept = 24 * time.Hour

const stopsDir = "stops/" + versionDir

// NewStops returns the stop requests kept in objects.
func NewStops(objects Objects) *Stops { return &Stops{objects: objects} }

func (s *Stops) folder(owner string) string { return path.Join(stopsDir, ownerKey(owner)) }

// Stop asks that owner's answers to questions sent before at end, and
// removes the requests older than StopsKept before at.
func (s *Stops) Stop(ctx context.Context, owner string, at time.Time) error {
	dir := s.folder(owner)
	names, err := s.objects.List(ctx, dir, 0)
	if err != nil {
		return fmt.Errorf("bucket: stop requests: %w", err)
	}
	data := fmt.Appendf(nil, `{"version":%d}`, formatVersion)
	if err := s.objects.Create(ctx, path.Join(dir, formatMillis(millis(at))+fileSuffix), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: request a stop: %w", err)
	}
	if err := pruneBefore(ctx, s.objects, dir, names, millis(at.Add(-StopsKept)), stopMillis); err != nil {
		return fmt.Errorf("bucket: remove an old stop request: %w", err)
	}
	return nil
}

// StoppedSince reports whether owner asked for a stop after since, in one
// listing.
func (s *Stops) StoppedSince(ctx context.Context, owner string, since time.Time) (bool, error) {
	names, err := s.objects.List(ctx, s.folder(owner), 0)
	if err != nil {
		return false, fmt.Errorf("bucket: stop requests: %w", err)
	}
	after := millis(since)
	for _, name := range names {
		if ms, ok := stopMillis(name); ok && ms > after {
			return true, nil
		}
	}
	return false, nil
}

// stopMillis is the instant a stop request's object name holds.
func stopMillis(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, fileSuffix)
	if !ok || len(digits) != millisDigits {
		return 0, false
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	return ms, err == nil
}
