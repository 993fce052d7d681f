package bucket

import (
	"context"
	"path"
	"slices"
	"sync"
)

// oldDays removes the day folders (yyyymmdd) of a store that keeps its
// files by day (Cards, Votes) once they are past what it keeps, a step at a
// time: a busy day is thousands of files, and through the mount removing a
// folder is a request per file, so no call may wait on removing a whole
// day. Each step removes at most pruneBatch files of the oldest day past
// the cutoff, or that day's folder once it is empty: a list and at most
// pruneBatch removals. A store takes one step per file it writes, so what
// is removed keeps up with what was written a retention ago, and catches
// up when the days before were busier. The days are listed again only once
// the old days listed are gone, and not at all while none is left for the
// current cutoff. Other folders than days (cards/v1/registered) are never
// touched.
type oldDays struct {
	objects Objects
	dir     string

	mu sync.Mutex
	// clean is the latest cutoff for which a listing held no older day:
	// until the cutoff moves past it there is nothing to remove.
	clean string
	// old are the days past the cutoff in the last listing, oldest first,
	// not yet seen removed.
	old []string
}

// pruneBatch is how many files a step removes: twice the one file a
// write adds, so that the removals catch up with busier days before.
const pruneBatch = 2

// step removes up to pruneBatch files of the oldest day before cutoff (a
// yyyymmdd), or that day's folder once it is empty.
func (o *oldDays) step(ctx context.Context, cutoff string) error {
	o.mu.Lock()
	if cutoff <= o.clean {
		o.mu.Unlock()
		return nil
	}
	day := ""
	if len(o.old) > 0 && o.old[0] < cutoff {
		day = o.old[0]
	}
	o.mu.Unlock()
	if day == "" {
		days, err := o.objects.List(ctx, o.dir, 0)
		if err != nil {
			return err
		}
		old := slices.DeleteFunc(days, func(d string) bool { return !isDay(d) || d >= cutoff })
		o.mu.Lock()
		o.old = old
		if len(old) == 0 {
			o.clean = max(o.clean, cutoff)
		}
		o.mu.Unlock()
		if len(old) == 0 {
			return nil
		}
		day = old[0]
	}
	dayDir := path.Join(o.dir, day)
	names, err := o.objects.List(ctx, dayDir, pruneBatch)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		o.mu.Lock()
		o.old = slices.DeleteFunc(o.old, func(d string) bool { return d == day })
		o.mu.Unlock()
		return o.objects.RemoveAll(ctx, dayDir)
	}
	for _, n := range names {
		if err := o.objects.Remove(ctx, path.Join(dayDir, n)); err != nil {
			return err
		}
	}
	return nil
}
