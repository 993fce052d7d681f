package document

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// This file reads what checkObjectStreams needs of a PDF's raw bytes,
// without the library: object definitions, dictionaries, references, and
// the data of streams decoded as the library decodes them.

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
