package document

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Reader reads files for the reply function: Extract, its errors told in
// the kinds of package chat, which is all the reply function knows of them.
type Reader struct{}

// Readable reports whether a file of that name is of a kind Extract reads.
func (Reader) Readable(name string) bool {
	_, ok := KindOf(name)
	return ok
}

// Read returns the text of the file named name whose content is f, and
// whether it is only the start of it, in this process: the reply function
// reads in a child process (package forked); this is for where it cannot.
// It cannot be stopped: ctx is not looked at.
func (r Reader) Read(_ context.Context, name string, f *os.File) (string, bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", false, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", false, err
	}
	return r.Text(name, data)
}

// Text returns the text of the file named name whose content is data, and
// whether it is only the start of it.
func (Reader) Text(name string, data []byte) (string, bool, error) {
	d, err := Extract(name, data)
	if err != nil {
		return "", false, inChatTerms(err)
	}
	return d.Text, d.Truncated, nil
}

// inChatTerms wraps err with the kind of package chat it is; a failure
// of no known kind counts as a damaged file.
func inChatTerms(err error) error {
	for _, k := range []struct{ ours, theirs error }{
		{ErrUnsupported, chat.ErrFileUnsupported},
		{ErrEncrypted, chat.ErrFileEncrypted},
		{ErrUnreadableFont, chat.ErrFileUnreadableFont},
		{ErrNoText, chat.ErrFileNoText},
		{ErrTooLarge, chat.ErrFileTooLarge},
		{ErrCorrupt, chat.ErrFileCorrupt},
	} {
		if errors.Is(err, k.ours) {
			return fmt.Errorf("%w: %w", k.theirs, err)
		}
	}
	return fmt.Errorf("%w: %w", chat.ErrFileCorrupt, err)
}
