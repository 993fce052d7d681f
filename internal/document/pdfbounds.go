package document

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
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
// of the raw file does not see their content: checkObjectStreams decodes
// them as the library would, before the library is given the file.

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

// objectStream is what this file reads of an object stream or a
// cross-reference stream, raw in the file: neither is ever compressed.
type objectStream struct {
	num     int64
	gen     int64
	extends []int64 // the object numbers it extends (several if the file defines it more than once)
	dict    map[string]pdfToken
	data    []byte // from after "stream" and its line end to the end of the file
}

// checkObjectStreams refuses, before the library reads them, object
// streams it would loop or recurse on:
//
//   - a chain of /Extends that loops (a stream extending itself, or two
//     each other) or is longer than maxObjectStreamChain (ErrCorrupt);
//   - a stream whose decoded data nests deeper than maxPDFObjectDepth, or
//     ends inside a hex string — the library's lexer would wait for its
//     end forever (ErrCorrupt).
//
// A stream this package cannot decode as the library would (an unknown
// filter, damaged data) is passed over: the library fails on it too,
// with a panic that is recovered. The streams of an encrypted file are
// decrypted as the library decrypts them (pdfcrypt.go).
func checkObjectStreams(data []byte) error {
	f := newRawFile(data)
	if err := checkXrefStreams(f); err != nil {
		return err
	}
	streams, err := findRawStreams(data, "ObjStm")
	if err != nil {
		return err
	}
	if err := checkExtendsChains(streams); err != nil {
		return err
	}
	// An encrypted file's streams are scanned decrypted, as the library
	// reads them once it has opened the file, and raw, as it reads them
	// before (when the encryption dictionary is itself compressed).
	decrypters := []*pdfDecrypter{nil}
	if bytes.Contains(data, []byte("/Encrypt")) {
		if d, ok := newPDFDecrypter(f); ok {
			decrypters = append(decrypters, d)
		}
	}
	for _, s := range streams {
		for _, d := range decrypters {
			if r := rawStreamReader(f, s, d); r != nil {
				if err := scanObjectStream(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// findRawStreams returns the streams of /Type typ (ObjStm, XRef) defined
// in the raw file: neither is ever itself compressed. A stream defined more
// than once (incremental updates) is returned once, with the /Extends of
// every definition.
func findRawStreams(data []byte, typ string) ([]objectStream, error) {
	byNum := make(map[int64]int)
	var streams []objectStream
	marker := []byte("/" + typ)
	for i := 0; ; {
		j := bytes.Index(data[i:], marker)
		if j < 0 {
			return streams, nil
		}
		i += j + len(marker)
		num, gen, dictStart, ok := objectBefore(data, i-len(marker))
		if !ok {
			continue
		}
		dict, after, ok := readRawDict(data, dictStart)
		if !ok || dict["Type"].kind != tokName || dict["Type"].text != typ {
			continue
		}
		s := objectStream{num: num, gen: gen, dict: dict}
		if ext := dict["Extends"]; isReference(ext) {
			s.extends = []int64{int64(ext.array[0].num)}
		}
		if k := streamDataStart(data, after); k >= 0 {
			s.data = data[k:]
		}
		if at, seen := byNum[num]; seen && typ == "ObjStm" {
			streams[at].extends = append(streams[at].extends, s.extends...)
			continue
		}
		if len(streams) >= maxObjectStreams {
			return nil, fmt.Errorf("%w: the PDF has more than %d object streams", ErrTooLarge, maxObjectStreams)
		}
		byNum[num] = len(streams)
		streams = append(streams, s)
	}
}

// checkXrefStreams refuses a cross-reference stream that places an object
// stream inside an object stream: the library, resolving an object in it,
// resolves the stream that holds it first, and so on, without reading
// anything — a recursion that the stack bound on reads does not see. Every
// cross-reference section counts, however updated.
func checkXrefStreams(f *rawFile) error {
	sections, err := findRawStreams(f.data, "XRef")
	if err != nil {
		return err
	}
	containers := make(map[int64]bool)
	compressed := func(each func(obj, container int64) error) error {
		for _, s := range sections {
			r := rawStreamReader(f, s, nil) // never encrypted
			if r == nil {
				continue
			}
			if err := readXrefEntries(r, s.dict, each); err != nil {
				return err
			}
		}
		return nil
	}
	err = compressed(func(_, container int64) error {
		if !containers[container] && len(containers) >= maxObjectStreams {
			return fmt.Errorf("%w: the PDF has more than %d object streams", ErrTooLarge, maxObjectStreams)
		}
		containers[container] = true
		return nil
	})
	if err != nil {
		return err
	}
	return compressed(func(obj, _ int64) error {
		if containers[obj] {
			return fmt.Errorf("%w: the PDF's cross-reference stream places an object stream inside an object stream", ErrCorrupt)
		}
		return nil
	})
}

// readXrefEntries reads the entries of a cross-reference stream, calling
// each for every compressed object (type 2) with the object stream that
// holds it, as the library reads them (its /W, its /Index or 0 to /Size).
func readXrefEntries(r io.Reader, dict map[string]pdfToken, each func(obj, container int64) error) error {
	w := dict["W"]
	if w.kind != tokArray || len(w.array) < 3 {
		return nil
	}
	var widths [3]int
	total := 0
	for i, x := range w.array {
		if x.kind != tokNumber || x.num < 0 || x.num > 8 {
			return nil // checkPDFSanity refuses it, or the library does
		}
		if i < 3 {
			widths[i] = int(x.num)
		}
		total += int(x.num)
	}
	index := []pdfToken{{kind: tokNumber}, dict["Size"]}
	if ix := dict["Index"]; ix.kind == tokArray {
		index = ix.array
	}
	buf := make([]byte, total)
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	for k := 0; k+1 < len(index); k += 2 {
		start, n := index[k], index[k+1]
		if start.kind != tokNumber || n.kind != tokNumber || n.num > maxPDFObjects || start.num > maxPDFObjects {
			return nil
		}
		for i := int64(0); i < int64(n.num); i++ {
			if _, err := io.ReadFull(r, buf); err != nil {
				if errors.Is(err, ErrTooLarge) {
					return err
				}
				return nil
			}
			typ := int64(1)
			if widths[0] > 0 {
				typ = field(buf[:widths[0]])
			}
			if typ != 2 {
				continue
			}
			container := field(buf[widths[0] : widths[0]+widths[1]])
			if err := each(int64(start.num)+i, container); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkExtendsChains follows /Extends from every object stream, refusing
// a loop or a chain longer than maxObjectStreamChain. The file may define
// an object stream more than once (incremental updates): every
// definition's /Extends counts.
func checkExtendsChains(streams []objectStream) error {
	extends := make(map[int64][]int64, len(streams))
	for _, s := range streams {
		extends[s.num] = s.extends
	}
	// longest[n] is the longest chain from n, once known; onPath marks the
	// streams of the chain being followed.
	longest := make(map[int64]int, len(streams))
	onPath := make(map[int64]bool)
	type frame struct {
		num  int64
		next int
	}
	for _, s := range streams {
		if _, done := longest[s.num]; done {
			continue
		}
		path := []frame{{num: s.num}}
		onPath[s.num] = true
		for len(path) > 0 {
			top := &path[len(path)-1]
			if len(path) > maxObjectStreamChain {
				return fmt.Errorf("%w: the PDF's object streams extend each other more than %d deep", ErrCorrupt, maxObjectStreamChain)
			}
			if top.next < len(extends[top.num]) {
				n := extends[top.num][top.next]
				top.next++
				if onPath[n] {
					return fmt.Errorf("%w: the PDF's object streams extend each other in a loop", ErrCorrupt)
				}
				if l, done := longest[n]; done {
					if len(path)+l > maxObjectStreamChain {
						return fmt.Errorf("%w: the PDF's object streams extend each other more than %d deep", ErrCorrupt, maxObjectStreamChain)
					}
					longest[top.num] = max(longest[top.num], l+1)
					continue
				}
				onPath[n] = true
				path = append(path, frame{num: n})
				continue
			}
			l := longest[top.num]
			delete(onPath, top.num)
			path = path[:len(path)-1]
			if len(path) > 0 {
				parent := path[len(path)-1].num
				longest[parent] = max(longest[parent], l+1)
			}
			longest[top.num] = l
		}
	}
	return nil
}

// objectBefore finds the "n g obj" whose dictionary holds the byte at i,
// at most 4 KiB before it, and returns n, g and where the dictionary
// begins.
func objectBefore(data []byte, i int) (num, gen int64, dictStart int, ok bool) {
	window := data[max(i-4096, 0):i]
	k := bytes.LastIndex(window, []byte("obj"))
	if k < 0 {
		return 0, 0, 0, false
	}
	return objectAt(data, max(i-4096, 0)+k)
}

// objectAt reads the "n g" before the "obj" at objAt, and returns them
// and where the object's value begins.
func objectAt(data []byte, objAt int) (num, gen int64, valueStart int, ok bool) {
	p := objAt
	var nums [2]int64
	for n := 1; n >= 0; n-- {
		for p > 0 && isPDFSpace(data[p-1]) {
			p--
		}
		end := p
		for p > 0 && data[p-1] >= '0' && data[p-1] <= '9' && end-p < 10 {
			p--
		}
		if p == end {
			return 0, 0, 0, false
		}
		v, err := strconv.ParseInt(string(data[p:end]), 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		nums[n] = v
	}
	return nums[0], nums[1], objAt + len("obj"), true
}

// readRawDict reads the dictionary that starts, after white space, at i:
// its entries, each a token (a reference "n g R" is an array of three, a
// dictionary a tokDict with its entries, to maxRawDictDepth levels). It
// returns where the dictionary ends.
func readRawDict(data []byte, i int) (map[string]pdfToken, int, bool) {
	src := bytes.NewReader(data[i:])
	l := newSmallPDFLexer(src)
	if l.next().kind != tokDictOpen {
		return nil, 0, false
	}
	dict, ok := l.rawDict(0)
	if !ok {
		return nil, 0, false
	}
	return dict, len(data) - src.Len() - l.r.Buffered(), true
}

// maxRawDictDepth bounds the dictionaries within a dictionary read by
// readRawDict: what it looks for (/DecodeParms) is one level down.
const maxRawDictDepth = 4

// rawDict reads the entries of a dictionary whose "<<" has been read.
func (l *pdfLexer) rawDict(depth int) (map[string]pdfToken, bool) {
	dict := make(map[string]pdfToken)
	var key string
	var value []pdfToken
	flush := func() {
		switch {
		case key == "":
		case len(value) == 3 && value[2].kind == tokKeyword && value[2].text == "R":
			dict[key] = pdfToken{kind: tokArray, array: value}
		case len(value) > 0:
			dict[key] = value[0]
		}
		key, value = "", nil
	}
	for {
		tok := l.next()
		switch tok.kind {
		case tokEOF:
			return nil, false
		case tokDictClose:
			flush()
			return dict, true
		case tokName:
			if len(value) > 0 || key == "" {
				flush()
				key = tok.text
				continue
			}
			value = append(value, tok)
		case tokDictOpen:
			if depth >= maxRawDictDepth {
				l.skipDict(depth + 1)
				value = append(value, pdfToken{kind: tokDict})
				continue
			}
			inner, ok := l.rawDict(depth + 1)
			if !ok {
				return nil, false
			}
			value = append(value, pdfToken{kind: tokDict, dict: inner})
		default:
			if key != "" {
				value = append(value, l.readOperand(tok))
			}
		}
	}
}

// rawFile is a PDF's raw bytes, with an index of the objects they define,
// made on first use, and the budget of data its streams may decode to while
// they are checked.
type rawFile struct {
	data   []byte
	defs   []uint64 // object number << 38 | offset after "obj", sorted
	index  bool     // defs is made
	budget int64
}

// maxObjectStreamsBytes bounds the data decoded from all the object
// streams and cross-reference streams of a file while they are checked,
// the raw and the decrypted reading of an encrypted file's together. A
// 10 MB file of real content decodes to a few megabytes of them.
const maxObjectStreamsBytes = 64 << 20

func newRawFile(data []byte) *rawFile {
	return &rawFile{data: data, budget: maxObjectStreamsBytes}
}

// definitions indexes the "n g obj" of the file, in one pass: a reference
// is then resolved by a search, not a scan of the file (a file may refer to
// thousands of objects).
func (f *rawFile) definitions() []uint64 {
	if f.index {
		return f.defs
	}
	f.index = true
	for i := 0; ; {
		j := bytes.Index(f.data[i:], []byte("obj"))
		if j < 0 {
			break
		}
		i += j + len("obj")
		if i < len(f.data) && !isPDFSpace(f.data[i]) && !isPDFDelim(f.data[i]) {
			continue // objects, …
		}
		num, _, at, ok := objectAt(f.data, i-len("obj"))
		if ok && num < 1<<26 && at < 1<<38 {
			f.defs = append(f.defs, uint64(num)<<38|uint64(at))
		}
	}
	slices.Sort(f.defs)
	return f.defs
}

// resolve returns v, or the object v refers to if it is a reference to an
// object defined in the raw file (its last definition, of that
// generation) whose value is a number, a name, an array or a dictionary;
// a tokEOF token if it cannot.
func (f *rawFile) resolve(v pdfToken) pdfToken {
	if !isReference(v) || v.array[0].num < 0 || v.array[0].num >= 1<<26 {
		return v
	}
	num, gen := uint64(v.array[0].num), int64(v.array[1].num)
	defs := f.definitions()
	end, _ := slices.BinarySearch(defs, (num+1)<<38)
	for k := end - 1; k >= 0 && defs[k]>>38 == num; k-- {
		at := int(defs[k] & (1<<38 - 1))
		if _, g, _, ok := objectAt(f.data, at-len("obj")); !ok || g != gen {
			continue
		}
		l := newSmallPDFLexer(bytes.NewReader(f.data[at:]))
		switch tok := l.next(); tok.kind {
		case tokDictOpen:
			if d, ok := l.rawDict(1); ok {
				return pdfToken{kind: tokDict, dict: d}
			}
		case tokNumber, tokName:
			return tok
		case tokArrayOpen:
			return l.readOperand(tok)
		}
		break
	}
	return pdfToken{}
}

// budgeted charges what r reads to the file's budget: ErrTooLarge past it.
func (f *rawFile) budgeted(r io.Reader) io.Reader { return &rawBudgetReader{r: r, f: f} }

type rawBudgetReader struct {
	r io.Reader
	f *rawFile
}

func (b *rawBudgetReader) Read(p []byte) (int, error) {
	if b.f.budget <= 0 {
		return 0, fmt.Errorf("%w: the PDF's object streams expand past %d MiB", ErrTooLarge, maxObjectStreamsBytes>>20)
	}
	if int64(len(p)) > b.f.budget {
		p = p[:b.f.budget]
	}
	n, err := b.r.Read(p)
	b.f.budget -= int64(n)
	return n, err
}

func isReference(v pdfToken) bool {
	return v.kind == tokArray && len(v.array) == 3 && v.array[0].kind == tokNumber && v.array[1].kind == tokNumber &&
		v.array[2].kind == tokKeyword && v.array[2].text == "R"
}

// streamDataStart returns where the data of the stream whose dictionary
// ends at i begins, or -1 if no "stream" keyword follows.
func streamDataStart(data []byte, i int) int {
	for i < len(data) && isPDFSpace(data[i]) {
		i++
	}
	if !bytes.HasPrefix(data[i:], []byte("stream")) {
		return -1
	}
	i += len("stream")
	if bytes.HasPrefix(data[i:], []byte("\r\n")) {
		return i + 2
	}
	if i < len(data) && (data[i] == '\n' || data[i] == '\r') {
		return i + 1
	}
	return -1
}

// maxObjectStreamBytes bounds the decoded data of one object stream.
// Real ones hold a hundred or two objects of at most some kilobytes; the
// library decodes a stream anew, from its start, for every object it
// resolves in it, so that a large one costs time over and over.
const maxObjectStreamBytes = 16 << 20

// rawStreamReader returns a reader of the data of the stream s decoded as
// the library decodes it (FlateDecode, with or without the PNG Up predictor,
// ASCII85Decode, or no filter, its entries resolved), or nil if it cannot
// be decoded so: the library then fails on it too, with a panic.
func rawStreamReader(f *rawFile, s objectStream, decrypt *pdfDecrypter) io.Reader {
	if r := decodeRawStream(f, s, decrypt); r != nil {
		return f.budgeted(r)
	}
	return nil
}

func decodeRawStream(f *rawFile, s objectStream, decrypt *pdfDecrypter) io.Reader {
	if s.data == nil {
		return nil
	}
	filter := f.resolve(s.dict["Filter"])
	param := f.resolve(s.dict["DecodeParms"])
	filters, params := []pdfToken{filter}, []pdfToken{param}
	if filter.kind == tokArray {
		filters, params = filter.array, param.array
	}
	// The library reads /Length bytes of data, none if it has none.
	data := s.data
	switch n, ok := s.dict["Length"]; {
	case !ok:
		return nil
	case f.resolve(n).kind == tokNumber:
		data = data[:min(max(int64(f.resolve(n).num), 0), int64(len(data)))]
	case filters[0].kind == tokName && filters[0].text == "FlateDecode":
		// a /Length this package cannot find: the compressed data ends
		// by itself, or with an error if the length cuts it
	default:
		return errReader{fmt.Errorf("%w: an object stream of the PDF has no /Length that can be read", ErrCorrupt)}
	}
	var r io.Reader = bytes.NewReader(data)
	if decrypt != nil {
		r = decrypt.stream(s.num, s.gen, r)
	}
	if filter.kind == tokEOF {
		return r
	}
	for i, filter := range filters {
		filter = f.resolve(filter)
		var p pdfToken
		if i < len(params) {
			p = f.resolve(params[i])
		}
		if filter.kind != tokName {
			return nil
		}
		switch filter.text {
		case "FlateDecode":
			zr, err := zlib.NewReader(r)
			if err != nil {
				return nil
			}
			r = zr
			if p.kind != tokDict {
				continue
			}
			pred := f.resolve(p.dict["Predictor"])
			switch {
			case pred.kind == tokEOF:
			case pred.kind == tokNumber && pred.num == 12:
				columns := f.resolve(p.dict["Columns"])
				if columns.kind != tokNumber || columns.num < 0 || columns.num > 1<<20 {
					return nil
				}
				n := int(columns.num) + 1
				r = &pngUpReader{r: r, hist: make([]byte, n), tmp: make([]byte, n)}
			default:
				return nil
			}
		case "ASCII85Decode":
			if p.kind == tokDict && len(p.dict) > 0 {
				return nil
			}
			r = ascii85.NewDecoder(&ascii85Alphabet{r: r})
		default:
			return nil
		}
	}
	return r
}

// errReader fails with its error.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// pngUpReader undoes the PNG Up predictor, as the library does.
type pngUpReader struct {
	r         io.Reader
	hist, tmp []byte
	pend      []byte
}

func (r *pngUpReader) Read(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if len(r.pend) > 0 {
			m := copy(b, r.pend)
			n += m
			b = b[m:]
			r.pend = r.pend[m:]
			continue
		}
		if _, err := io.ReadFull(r.r, r.tmp); err != nil {
			return n, err
		}
		if r.tmp[0] != 2 {
			return n, errors.New("malformed PNG-Up encoding")
		}
		for i, c := range r.tmp {
			r.hist[i] += c
		}
		r.pend = r.hist[1:]
	}
	return n, nil
}

// hexTail passes data through, following what the library's lexer would
// do with a hex string open at its end. Reading a hex string, the library
// takes its digits two by two, skipping white space, until a ">"; it
// fails on a pair that is not two hex digits; and at the end of an object
// stream's data, where it reads white space for ever, it waits for the
// next digit for ever. So it loops if, after the "<" it starts at, come
// hex digits and white space only — or those, then one more character
// that is not ">" after an even count of digits (it waits for that one's
// pair). Whether some "<" so ends the data depends only on its last two
// characters that are neither hex digits nor white space (significant),
// and on the digits around them: hexTail keeps those.
type hexTail struct {
	r               io.Reader
	count           int64
	last, before    byte // the last two significant characters, 0 for none
	digitsAfter     int  // hex digits after last
	digitsInBetween int  // hex digits between before and last
}

func (t *hexTail) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	t.count += int64(n)
	for _, c := range b[:n] {
		if _, hex := unhex(c); hex {
			t.digitsAfter++
		} else if !isPDFSpace(c) {
			t.before, t.last = t.last, c
			t.digitsInBetween, t.digitsAfter = t.digitsAfter, 0
		}
	}
	return n, err
}

// endsInOpenHex reports whether the library, started at some "<" in the
// data, would be reading a hex string when the data ends.
func (t *hexTail) endsInOpenHex() bool {
	return t.last == '<' ||
		t.before == '<' && t.last != '>' && t.digitsAfter == 0 && t.digitsInBetween%2 == 0
}

// scanObjectStream reads the decoded data of one object stream, refusing
// it if it nests deeper than maxPDFObjectDepth, or is longer than
// maxObjectStreamBytes, or could leave the library's lexer reading a hex
// string when it ends: if the last byte that is neither a hex digit nor
// white space is a "<". That property does not depend on where in the
// data the library starts reading (an object stream gives the offset of
// each object, and a hostile one any offset): see hexTail. Data that ends in an error
// rather than at its end is not refused: the library fails there too.
func scanObjectStream(r io.Reader) error {
	tail := &hexTail{r: io.LimitReader(r, maxObjectStreamBytes+1)}
	l := newPDFLexer(tail)
	depth := 0
	for {
		switch l.next().kind {
		case tokArrayOpen, tokDictOpen:
			if depth++; depth > maxPDFObjectDepth {
				return errPDFDepth
			}
			continue
		case tokArrayClose, tokDictClose:
			depth = max(depth-1, 0)
			continue
		case tokEOF:
		default:
			continue
		}
		break
	}
	switch {
	case tail.count > maxObjectStreamBytes:
		return fmt.Errorf("%w: an object stream of the PDF expands past %d MiB", ErrTooLarge, maxObjectStreamBytes>>20)
	case errors.Is(l.failure(), ErrCorrupt), errors.Is(l.failure(), ErrTooLarge):
		return l.failure()
	case l.failure() != nil:
		return nil
	case tail.endsInOpenHex():
		return fmt.Errorf("%w: an object stream of the PDF ends inside a hex string", ErrCorrupt)
	}
	return nil
}

// ascii85Alphabet keeps the characters of the ASCII85 alphabet and stops
// at "~" (the end marker), as the library's reader does.
type ascii85Alphabet struct {
	r   io.Reader
	eod bool
}

func (a *ascii85Alphabet) Read(p []byte) (int, error) {
	if a.eod {
		return 0, io.EOF
	}
	n, err := a.r.Read(p)
	out := 0
	for _, c := range p[:n] {
		if c == '~' {
			a.eod = true
			return out, io.EOF
		}
		if c >= '!' && c <= 'u' || c == 'z' {
			p[out] = c
			out++
		}
	}
	return out, err
}
