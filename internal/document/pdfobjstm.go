package document

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// This file checks a PDF's object streams and cross-reference streams
// before the library reads them: see pdfbounds.go.

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
//   - a cross-reference stream that places an object stream inside an
//     object stream (ErrCorrupt; see checkXrefStreams);
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

// maxObjectStreamBytes bounds the decoded data of one object stream.
// Real ones hold a hundred or two objects of at most some kilobytes; the
// library decodes a stream anew, from its start, for every object it
// resolves in it, so that a large one costs time over and over.
const maxObjectStreamBytes = 16 << 20

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
