package forked

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// What the child writes on its stdout: one line of JSON, the header, then
// the text itself, raw, so that the text is neither escaped nor held twice
// on either side.
type header struct {
	// Kind names the chat error kind of a failure (kinds); empty on
	// success.
	Kind string `json:"kind,omitempty"`
	// Detail is the failure's own words, about the file's structure, for
	// the log.
	Detail    string `json:"detail,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// maxHeaderBytes bounds the header line; a detail is cut well below it.
const (
	maxHeaderBytes = 4 << 10
	maxDetailBytes = 1 << 10
)

// kinds are the failures that cross from the child to the parent, by the
// name the header carries.
var kinds = []struct {
	name string
	err  error
}{
	{"unsupported", chat.ErrFileUnsupported},
	{"encrypted", chat.ErrFileEncrypted},
	{"font", chat.ErrFileUnreadableFont},
	{"notext", chat.ErrFileNoText},
	{"toolarge", chat.ErrFileTooLarge},
	{"complex", chat.ErrFileTooComplex},
	{"corrupt", chat.ErrFileCorrupt},
}

// kindName is the header's name of err's kind; a failure of no known kind
// counts as a damaged file.
func kindName(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "corrupt"
}

// kindError is the error the parent returns for a header's failure.
func kindError(h header) error {
	for _, k := range kinds {
		if k.name == h.Kind {
			return fmt.Errorf("%w: %s", k.err, strings.TrimPrefix(h.Detail, k.err.Error()+": "))
		}
	}
	return fmt.Errorf("%w: the reader said %q: %s", chat.ErrFileCorrupt, h.Kind, h.Detail)
}

// cut is s within n bytes, for a log line.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
