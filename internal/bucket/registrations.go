package bucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Registrations keep which card callback URLs the robot registered with
// DingTalk, so that it registers each once ever rather than on every cold
// start of every instance:
//
//	<root>/cards/v1/registered/<registration>.json
//
// <registration> is the hex SHA-256 of the key the caller gives, which
// says what was registered (the route key, the URL and a hash of the
// secret, so that a new URL or secret registers again); the file holds no
// more than a version. Each is created only if absent (Objects.Create),
// never rewritten. Through the OSS API two instances that both find none
// may both register (the caller marks after DingTalk answered), which
// registering with forceUpdate makes harmless; through the mount the mark
// itself is exclusive within one instance only (see the package doc).
type Registrations struct {
	objects Objects
}

const registrationsDir = cardsDir + "/registered"

// maxRegistrationBytes bounds a registration's file: it holds a version.
const maxRegistrationBytes = 256

// NewRegistrations returns the registrations kept in objects.
func NewRegistrations(objects Objects) *Registrations { return &Registrations{objects: objects} }

func registrationPath(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty registration key", ErrInvalidArgument)
	}
	return path.Join(registrationsDir, ownerKey(key)+fileSuffix), nil
}

// Registered reports whether the registration key was marked. A mark that
// cannot be used is an error wrapping ErrUnusableRecord that names it.
func (r *Registrations) Registered(ctx context.Context, key string) (bool, error) {
	p, err := registrationPath(key)
	if err != nil {
		return false, fmt.Errorf("bucket: registered: %w", err)
	}
	var rec struct {
		Version int `json:"version"`
	}
	err = readRecord(ctx, r.objects, p, maxRegistrationBytes, &rec)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bucket: registered: %w", err)
	}
	return true, nil
}

// MarkRegistered records that the registration key was made. Marking it
// again is no error.
func (r *Registrations) MarkRegistered(ctx context.Context, key string) error {
	p, err := registrationPath(key)
	if err != nil {
		return fmt.Errorf("bucket: mark registered: %w", err)
	}
	if err := r.objects.Create(ctx, p, fmt.Appendf(nil, `{"version":%d}`, formatVersion)); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: mark registered: %w", err)
	}
	return nil
}
