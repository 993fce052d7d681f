package document

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
)

// This file bounds what the PDF library may do with a hostile file, for the
// parts of it that checkPDFSanity's numbers do not cover: nesting, object
// streams, and recursion through references.
//
// The library (github.com/ledongthuc/pdf) resolves a reference to a
// compressed object by opening the object stream that holds it, which may
// itself need references resolved (its /Length, /Filter, /N, /First,
// /Extends): an object stream whose /Length lies inside itself, or that the
// cross-reference stream says lies inside itself, recurses until the Go
// stack overflows — a fatal error, which no recover catches. It follows
// /Extends without remembering where it has been, and its lexer, reading an
// object stream (where it allows the end of the data), loops forever on a
// hex string left open at the end. Object streams are compressed, so a scan
// of the raw file does not see their content: checkObjectStreams
// (pdfobjstm.go) decodes them as the library would (pdfraw.go, and
// pdfcrypt.go for an encrypted file), before the library is given the
// file.

// Bounds on a PDF's structure.
const (
	// maxPDFObjectDepth bounds arrays and dictionaries within each other in
	// a PDF's objects, raw or in object streams. Real files nest a few
	// levels (a page's resources: a dictionary of dictionaries of
	// references); the library recurses once per level and stops at 1000,
	// so this is met first, with a clearer error.
	maxPDFObjectDepth = 256
	// maxObjectStreamChain bounds a chain of object streams each extending
	// the one before (/Extends): producers write one level, if any; the
	// library searches the chain for every compressed object it resolves.
	maxObjectStreamChain = 32
	// maxObjectStreams bounds the object streams (and cross-reference
	// streams) decoded before the library is given the file, each once,
	// within maxObjectStreamsBytes all together. A 10 MB file of real
	// content holds hundreds at most.
	maxObjectStreams = 10000
	// maxPDFStackFrames bounds the call stack under which the library may
	// read the file: a read deeper than that is refused, and the library
	// panics (recovered) instead of recursing until the stack overflows.
	// Extraction itself, library included, runs a few hundred frames deep
	// at most (the page tree walk is bounded to 64 levels, forms to 12,
	// the library's object nesting to 1000 frames only for a hostile file,
	// which the depth scan refuses first).
	maxPDFStackFrames = 2048
)

var errPDFRecursion = errors.New("document: the PDF's objects refer to each other without end")

// stackBoundedFile is the file as the library reads it: a read made with
// more than maxPDFStackFrames frames on the stack fails. The library
// resolves each reference by reading the object it names, so a chain of
// references that recurses without end (through /Length, /Extends, an
// object stream said to hold itself) fails after at most that many frames,
// whichever keys it goes through.
//
// It also bounds the bytes the library reads, all together, to
// maxPDFReadBytes: the library keeps nothing it has parsed, and parses an
// object anew each time a reference to it is followed, so a large object
// referred to from everywhere (a font's widths, a resource dictionary
// with thousands of entries, each for every page and every font change)
// costs its size each time. Past the bound, reads fail (and the library
// panics, recovered): whatever loop it is in ends.
type stackBoundedFile struct {
	r      *bytes.Reader
	pcs    []uintptr
	budget int64
}

// maxPDFReadBytes bounds the bytes the library reads from one file, all
// its reads together. Reading a page costs it some tens of reads of 4 KiB
// (a read per object resolved): a document of MaxPDFPages pages needs a
// few hundred megabytes.
const maxPDFReadBytes = 1 << 30

var errPDFWork = fmt.Errorf("%w: the PDF's objects refer to each other so much that reading them would take too long", ErrTooLarge)

func newStackBoundedFile(data []byte) *stackBoundedFile {
	return &stackBoundedFile{r: bytes.NewReader(data), pcs: make([]uintptr, maxPDFStackFrames), budget: maxPDFReadBytes}
}

// spent reports whether the library has read all it may.
func (f *stackBoundedFile) spent() bool { return f.budget < 0 }

func (f *stackBoundedFile) ReadAt(p []byte, off int64) (int, error) {
	if runtime.Callers(1, f.pcs) == len(f.pcs) {
		return 0, errPDFRecursion
	}
	if f.budget -= int64(len(p)); f.budget < 0 {
		return 0, errPDFWork
	}
	return f.r.ReadAt(p, off)
}

// checkPDFSyntax refuses a file whose raw objects nest arrays or
// dictionaries deeper than maxPDFObjectDepth. Stream data is skipped.
func checkPDFSyntax(data []byte) error {
	if _, err := scanPDFSyntax(data, true); err != nil {
		return err
	}
	return nil
}

var errPDFDepth = fmt.Errorf("%w: the PDF nests arrays or dictionaries more than %d deep", ErrCorrupt, maxPDFObjectDepth)

// scanPDFSyntax reads data as PDF objects — strings, comments, arrays and
// dictionaries, skipping stream data when streams is set — and returns
// ErrCorrupt if they nest deeper than maxPDFObjectDepth. It reports
// whether data ends inside a hex string. It reads each byte once, and
// never recurses.
func scanPDFSyntax(data []byte, streams bool) (openHex bool, err error) {
	depth := 0
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '%':
			for i < len(data) && data[i] != '\n' && data[i] != '\r' {
				i++
			}
		case c == '(':
			i++
			for nest := 1; i < len(data) && nest > 0; i++ {
				switch data[i] {
				case '\\':
					i++
				case '(':
					nest++
				case ')':
					nest--
				}
			}
		case c == '<' && i+1 < len(data) && data[i+1] == '<', c == '[':
			if depth++; depth > maxPDFObjectDepth {
				return false, errPDFDepth
			}
			i += 1 + btoi(c == '<')
		case c == '<':
			end := bytes.IndexByte(data[i+1:], '>')
			if end < 0 {
				return true, nil
			}
			i += end + 2
		case c == '>' && i+1 < len(data) && data[i+1] == '>', c == ']':
			depth = max(depth-1, 0)
			i += 1 + btoi(c == '>')
		case c == '/': // a name, which may spell a keyword: /stream
			for i++; i < len(data) && !isPDFSpace(data[i]) && !isPDFDelim(data[i]); i++ {
			}
		case isPDFSpace(c) || isPDFDelim(c):
			i++
		default:
			start := i
			for i < len(data) && !isPDFSpace(data[i]) && !isPDFDelim(data[i]) {
				i++
			}
			switch string(data[start:i]) {
			case "obj", "endobj", "endstream", "trailer", "xref", "startxref":
				depth = 0 // a new object: what came before, damaged or not, is done
			case "stream":
				depth = 0
				if streams {
					end := bytes.Index(data[i:], []byte("endstream"))
					if end < 0 {
						return false, nil
					}
					i += end
				}
			}
		}
	}
	return false, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
