package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUnusableRecord is wrapped by the errors of a store that met a file it
// cannot use (Cards, Votes, Registrations): larger than the store writes,
// not JSON, of another version, or not what its name says. The error
// names the file and why; the file is left as it is.
var ErrUnusableRecord = errors.New("unusable record")

// readRecord reads the small JSON record at p into v, reading no more of
// it than limit bytes, and checks its version. A missing file is an error
// matching fs.ErrNotExist; one that cannot be used wraps
// ErrUnusableRecord and says which and why.
func readRecord(ctx context.Context, objects Objects, p string, limit int64, v any) error {
	data, err := readAtMost(ctx, objects, p, limit+1)
	if err != nil {
		return err
	}
	return decodeRecord(p, data, limit, v)
}

// decodeRecord decodes data, the first limit+1 bytes of the record at p,
// into v, as readRecord does.
func decodeRecord(p string, data []byte, limit int64, v any) error {
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: %s is larger than %d bytes", ErrUnusableRecord, p, limit)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s does not parse (%d bytes): %w", ErrUnusableRecord, p, len(data), err)
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Version != formatVersion {
		return fmt.Errorf("%w: %s is of version %d, this build reads %d", ErrUnusableRecord, p, head.Version, formatVersion)
	}
	return nil
}
