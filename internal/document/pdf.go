package document

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ledongthuc/pdf"
)

// The PDF reader: github.com/ledongthuc/pdf parses the file's structure
// (cross-reference table, objects, stream filters, RC4/AES decryption with
// an empty user password); this package walks the page tree, runs each
// page's content for its text (pdftext.go), with its own lexer (pdflex.go)
// and its own reading of fonts (pdffont.go).
//
// The library was written for well-formed files. Against damaged or hostile
// ones this package recovers its panics, checks beforehand the numbers that
// would make it allocate without bound or loop forever (checkPDFSanity), the
// nesting of the raw objects (checkPDFSyntax), and the object streams and
// cross-reference streams it would loop or recurse on (checkObjectStreams,
// pdfbounds.go); and it gives the library a file whose reads fail under too
// deep a stack (stackBoundedFile), so that a recursion through references
// ends in a panic, recovered, not in a stack overflow, which ends the
// process.

// maxPDFObjects bounds the object numbers a PDF may declare (its xref
// /Size, its subsections, an object stream's /N): the library allocates a
// table entry for each. A 10 MB file holds far fewer objects.
const maxPDFObjects = 1 << 22

// maxXrefSections bounds the chain of cross-reference sections (one per
// incremental update), and xrefSectionWindow how far from its start the
// trailer of one is looked for (past a larger table, the chain is not
// followed further: it is only checked, not needed).
const (
	maxXrefSections   = 256
	xrefSectionWindow = 256 << 10
)

var errPDFPage = errors.New("document: a PDF page cannot be read")

// extractPDF reads the text of a PDF into w, page after page, pages
// separated by a blank line.
//
// A page that cannot be read (damaged content) is skipped; the PDF is
// ErrCorrupt only if no page yields text and one failed. It is
// ErrUnreadableFont if most of its characters are in fonts that carry no
// Unicode mapping, ErrNoText if it shows no text at all (a scan).
func extractPDF(data []byte, w *textWriter) error {
	if err := checkPDFSanity(data); err != nil {
		return err
	}
	if err := checkPDFSyntax(data); err != nil {
		return err
	}
	if err := checkObjectStreams(data); err != nil {
		return err
	}
	r, file, err := openPDF(data)
	if err != nil {
		return err
	}
	pages, err := pdfPages(r)
	if file.spent() {
		return errPDFWork
	}
	if err != nil {
		return err
	}
	x := &pdfExtractor{
		out:    w,
		budget: MaxPDFContentBytes,
		fonts:  make(map[string]*pdfFont),
		cmaps:  make(map[string]*toUnicodeMap),
	}
	failed := 0
	for i, page := range pages {
		if i > 0 {
			if err := w.WriteString("\n\n"); err != nil {
				return err
			}
		}
		err := x.page(page)
		if file.spent() {
			return errPDFWork
		}
		switch {
		case errors.Is(err, errFull):
			return err
		case errors.Is(err, ErrTooLarge):
			return err
		case err != nil:
			failed++
		}
	}
	switch {
	case x.unreadable > 0 && x.unreadable >= x.readable:
		return fmt.Errorf("%w: most of the PDF's text is in fonts embedded without a ToUnicode table, so its characters cannot be known", ErrUnreadableFont)
	case x.readable == 0 && failed > 0:
		return fmt.Errorf("%w: %d of the PDF's %d pages cannot be parsed", ErrCorrupt, failed, len(pages))
	case x.readable == 0:
		return fmt.Errorf("%w: the PDF shows no text (it may be scanned images)", ErrNoText)
	}
	return nil
}

// openPDF opens data with the library, working around two of its
// strictures: it accepts only the headers %PDF-1.0 to %PDF-1.7 (not
// PDF 2.0, whose syntax it reads as well), and only a %%EOF within the last
// 100 bytes (some downloads add padding after it).
func openPDF(data []byte) (*pdf.Reader, *stackBoundedFile, error) {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, nil, fmt.Errorf("%w: the file is not a PDF (no %%PDF- header)", ErrCorrupt)
	}
	view := data
	if len(view) >= 9 {
		versionOK := view[5] == '1' && view[6] == '.' && view[7] >= '0' && view[7] <= '7'
		eolOK := view[8] == '\r' || view[8] == '\n'
		if !versionOK || !eolOK {
			view = bytes.Clone(data)
			copy(view[5:], "1.7")
			view[8] = '\n'
		}
	}
	if i := bytes.LastIndex(view, []byte("%%EOF")); i > 0 {
		view = view[:i+len("%%EOF")]
	}
	file := newStackBoundedFile(view)
	r, err := pdf.NewReader(file, int64(len(view)))
	if err == nil {
		return r, file, nil
	}
	if errors.Is(err, pdf.ErrInvalidPassword) || strings.Contains(strings.ToLower(err.Error()), "encrypt") || bytes.Contains(data, []byte("/Encrypt")) {
		// The library opens, with the empty user password, a PDF encrypted
		// only to restrict copying or printing (RC4 or AES-128). This one
		// needs a password, or uses an encryption it does not implement
		// (AES-256): either way, its text cannot be read.
		return nil, nil, fmt.Errorf("%w: the PDF is encrypted", ErrEncrypted)
	}
	if file.spent() {
		return nil, nil, errPDFWork
	}
	return nil, nil, fmt.Errorf("%w: the PDF's structure cannot be parsed", ErrCorrupt)
}

// pdfPages returns the pages of the document in order, walking the page
// tree with bounds of its own: the library's walk (Reader.Page) loops
// forever on a tree that refers to itself.
func pdfPages(r *pdf.Reader) (pages []pdf.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			recovered(p)
			pages, err = nil, fmt.Errorf("%w: the PDF's page tree cannot be parsed", ErrCorrupt)
		}
	}()
	root := r.Trailer().Key("Root").Key("Pages")
	if n := root.Key("Count").Int64(); n > MaxPDFPages {
		return nil, fmt.Errorf("%w: the PDF has %d pages (at most %d are read)", ErrTooLarge, n, MaxPDFPages)
	}
	const maxDepth = 64
	visits := 0
	var walk func(node pdf.Value, depth int) error
	walk = func(node pdf.Value, depth int) error {
		if visits++; visits > 4*MaxPDFPages || depth > maxDepth {
			return fmt.Errorf("%w: the PDF's page tree loops or is too deep", ErrCorrupt)
		}
		if node.Kind() != pdf.Dict {
			return nil
		}
		if kids := node.Key("Kids"); node.Key("Type").Name() != "Page" && kids.Kind() == pdf.Array {
			for i := 0; i < kids.Len(); i++ {
				if err := walk(kids.Index(i), depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if len(pages) >= MaxPDFPages {
			return fmt.Errorf("%w: the PDF has more than %d pages", ErrTooLarge, MaxPDFPages)
		}
		pages = append(pages, node)
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	return pages, nil
}

// pdfExtractor holds what the pages of one document share.
type pdfExtractor struct {
	out    *textWriter
	budget int64 // decoded content bytes that may still be read
	fonts  map[string]*pdfFont
	cmaps  map[string]*toUnicodeMap

	formRuns             int
	readable, unreadable int // characters shown that could / could not be read
}

func (x *pdfExtractor) tooLarge() error {
	return fmt.Errorf("%w: the PDF's content expands past %d MiB", ErrTooLarge, MaxPDFContentBytes>>20)
}

// page writes the text of page. A panic of the library on its damaged
// content is errPDFPage.
func (x *pdfExtractor) page(page pdf.Value) (err error) {
	defer func() {
		if p := recover(); p != nil {
			recovered(p)
			err = errPDFPage
		}
	}()
	contents := page.Key("Contents")
	var streams []pdf.Value
	switch contents.Kind() {
	case pdf.Stream:
		streams = []pdf.Value{contents}
	case pdf.Array:
		for i := 0; i < contents.Len(); i++ {
			streams = append(streams, contents.Index(i))
		}
	}
	if len(streams) == 0 {
		return nil
	}
	scope := newResourceScope(inherited(page, "Resources"))
	return newContentRun(x).run(streams, scope, 0)
}

// inherited returns the entry key of page or of its nearest ancestor that
// has it (a page inherits its resources), looking no further than a few
// levels: the library's own lookup loops forever on a cycle of parents.
func inherited(page pdf.Value, key string) pdf.Value {
	v := page
	for range 32 {
		if v.Kind() != pdf.Dict {
			break
		}
		if e := v.Key(key); !e.IsNull() {
			return e
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// font returns the font name of scope, or nil if there is none such. Fonts
// are parsed once per document: a font dictionary's text (its entries,
// references unresolved) identifies it.
func (x *pdfExtractor) font(scope *resourceScope, name string) (f *pdfFont) {
	if f, ok := scope.fonts[name]; ok {
		return f
	}
	defer func() {
		if p := recover(); p != nil {
			recovered(p)
			f = nil
		}
		scope.fonts[name] = f
	}()
	v := scope.res.Key("Font").Key(name)
	if v.Kind() != pdf.Dict {
		return nil
	}
	key := v.String()
	if f, ok := x.fonts[key]; ok {
		return f
	}
	f = newPDFFont(v, x.toUnicode)
	x.fonts[key] = f
	return f
}

// toUnicode returns the parsed ToUnicode CMap of the stream v, nil if it
// maps nothing. A stream's text includes its offset: it identifies it.
func (x *pdfExtractor) toUnicode(v pdf.Value, composite bool) (m *toUnicodeMap) {
	key := strconv.FormatBool(composite) + v.String()
	if m, ok := x.cmaps[key]; ok {
		return m
	}
	defer func() {
		if p := recover(); p != nil {
			recovered(p)
			m = nil
		}
		x.cmaps[key] = m
	}()
	return parseToUnicode(newPDFLexer(&streamsReader{x: x, streams: []pdf.Value{v}}), composite)
}

// recovered passes a recovered panic to the test hook.
func recovered(p any) {
	if panicHook != nil {
		panicHook(p)
	}
}

// checkPDFSanity refuses, before the library reads them, numbers it would
// trust to the point of exhausting memory or looping forever:
//
//   - an xref /Size, an xref subsection's range, an xref stream's /Index or
//     an object stream's /N past maxPDFObjects (it allocates a table entry
//     per object number, or reads that many entries);
//   - an xref stream's /W field wider than 8 bytes, or a /Columns past a
//     million (it allocates buffers of those sizes);
//   - a chain of cross-reference sections (startxref, then each /Prev) that
//     loops back on itself.
func checkPDFSanity(data []byte) error {
	tooLarge := fmt.Errorf("%w: the PDF declares more than %d objects", ErrTooLarge, maxPDFObjects)
	for _, key := range []string{"/Size", "/N"} {
		for _, v := range keyInts(data, key, 1) {
			if v[0] > maxPDFObjects {
				return tooLarge
			}
		}
	}
	for _, v := range keyInts(data, "/Index", 0) {
		for i := 0; i+1 < len(v); i += 2 {
			if v[i] > maxPDFObjects || v[i+1] > maxPDFObjects {
				return tooLarge
			}
		}
	}
	for _, v := range keyInts(data, "/Columns", 1) {
		if v[0] > 1<<20 {
			return fmt.Errorf("%w: the PDF declares an image a million pixels wide", ErrCorrupt)
		}
	}
	// /W is also a CID font's widths; an xref stream's has three small numbers.
	xrefStream := bytes.Contains(data, []byte("/XRef"))
	for _, v := range keyInts(data, "/W", 0) {
		if xrefStream && len(v) == 3 && (v[0] > 8 || v[1] > 8 || v[2] > 8) {
			return fmt.Errorf("%w: the PDF's cross-reference stream is malformed", ErrCorrupt)
		}
	}
	if err := checkXrefSubsections(data); err != nil {
		return err
	}
	return checkXrefChain(data)
}

// keyInts returns, for each occurrence of the dictionary key in data, the
// integers that follow it: n of them, or with n 0 those of the array that
// follows it. Negative or malformed numbers end a list.
func keyInts(data []byte, key string, n int) [][]int64 {
	var found [][]int64
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(key))
		if j < 0 {
			return found
		}
		i += j + len(key)
		if i < len(data) && !isPDFSpace(data[i]) && !isPDFDelim(data[i]) {
			continue // a longer key: /Sizes, /Names
		}
		s := scanner{data: data, pos: i}
		var v []int64
		if n == 0 {
			if !s.skip("[") {
				continue
			}
			for len(v) < 64 {
				x, ok := s.int()
				if !ok {
					break
				}
				v = append(v, x)
			}
		} else {
			for range n {
				x, ok := s.int()
				if !ok {
					break
				}
				v = append(v, x)
			}
		}
		if len(v) > 0 {
			found = append(found, v)
		}
	}
}

// checkXrefSubsections checks the "first count" header of each subsection
// of every xref table.
func checkXrefSubsections(data []byte) error {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("xref"))
		if j < 0 {
			return nil
		}
		i += j + len("xref")
		start := i - len("xref")
		if start > 0 && !isPDFSpace(data[start-1]) || i < len(data) && !isPDFSpace(data[i]) {
			continue // startxref, or a word that contains xref
		}
		s := scanner{data: data, pos: i}
		for range 1 << 16 {
			first, ok1 := s.int()
			count, ok2 := s.int()
			if !ok1 || !ok2 {
				break
			}
			if first > maxPDFObjects || count > maxPDFObjects {
				return fmt.Errorf("%w: the PDF declares more than %d objects", ErrTooLarge, maxPDFObjects)
			}
			// skip the entries: "offset generation n|f"
			for e := int64(0); e < count; e++ {
				_, ok1 := s.int()
				_, ok2 := s.int()
				if !ok1 || !ok2 || !(s.skip("n") || s.skip("f")) {
					break
				}
			}
		}
	}
}

// checkXrefChain follows startxref and the /Prev entry of each
// cross-reference section's trailer, which the library follows without
// remembering where it has been.
func checkXrefChain(data []byte) error {
	i := bytes.LastIndex(data, []byte("startxref"))
	if i < 0 {
		return nil
	}
	s := scanner{data: data, pos: i + len("startxref")}
	off, ok := s.int()
	seen := make(map[int64]bool)
	for ok && off > 0 && off < int64(len(data)) {
		if seen[off] || len(seen) >= maxXrefSections {
			return fmt.Errorf("%w: the PDF's cross-reference sections refer to each other in a loop", ErrCorrupt)
		}
		seen[off] = true
		// The section's dictionary: a trailer after an xref table (up to
		// the next startxref), or an xref stream's (up to its data).
		section := data[off:min(off+xrefSectionWindow, int64(len(data)))]
		end := len(section)
		if k := bytes.Index(section, []byte("startxref")); k >= 0 {
			end = k
		}
		if k := bytes.Index(section[:end], []byte("stream")); k >= 0 && !bytes.HasPrefix(bytes.TrimLeft(section, "\x00\t\n\f\r "), []byte("xref")) {
			end = k
		}
		prev := keyInts(section[:end], "/Prev", 1)
		if len(prev) == 0 {
			return nil
		}
		off, ok = prev[0][0], true
	}
	return nil
}

// scanner reads integers and keywords from PDF syntax.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) space() {
	for s.pos < len(s.data) && isPDFSpace(s.data[s.pos]) {
		s.pos++
	}
}

// int reads a non-negative integer.
func (s *scanner) int() (int64, bool) {
	s.space()
	start := s.pos
	for s.pos < len(s.data) && s.pos-start < 19 && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	if s.pos == start {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 64)
	if s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		return 1<<62 - 1, true // more than 19 digits: huge
	}
	return v, err == nil
}

// skip reads the keyword or delimiter word, if it is next.
func (s *scanner) skip(word string) bool {
	s.space()
	if bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		s.pos += len(word)
		return true
	}
	return false
}
