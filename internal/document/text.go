package document

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
	"golang.org/x/text/transform"
)

// extractText reads a plain text file (or source code) into w.
func extractText(data []byte, w *textWriter) error {
	text, err := decodeText(data)
	if err != nil {
		return err
	}
	for {
		r, _, err := text.ReadRune()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: the text cannot be decoded", ErrCorrupt)
		}
		if err := w.WriteRune(r); err != nil {
			return err
		}
	}
}

// runeReader is the decoded text of a file, as runes or as UTF-8 bytes.
type runeReader interface {
	io.Reader
	io.RuneReader
}

// decodeText returns the text of data as UTF-8, having guessed its encoding:
//
//   - a byte order mark decides: UTF-8, UTF-16 or UTF-32, little or big
//     endian;
//   - else text that is mostly NUL bytes in every other position is UTF-16
//     without a mark (Windows writes some), of ASCII characters mostly;
//   - else valid UTF-8 is UTF-8 (a few invalid bytes in a text that is
//     otherwise clearly UTF-8 are taken as damage, not as another encoding);
//   - else it is GB18030, the superset of GBK and GB2312 that Chinese
//     Windows still writes by default (Notepad's "ANSI", a .csv from Excel).
//
// It returns ErrCorrupt if the result looks binary rather than text: NUL
// bytes and control characters, or bytes that are not text in any of these
// encodings, make more than 2% of it.
func decodeText(data []byte) (runeReader, error) {
	enc, body := guessEncoding(data)
	if looksBinary(decoder(enc, body[:min(len(body), sniffBytes)])) {
		return nil, fmt.Errorf("%w: the file is binary, not text", ErrCorrupt)
	}
	return decoder(enc, body), nil
}

// sniffBytes is how much of a file decides whether it is text.
const sniffBytes = 1 << 20

// guessEncoding returns the encoding of data (nil for UTF-8) and data
// without its byte order mark.
func guessEncoding(data []byte) (encoding.Encoding, []byte) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return nil, withoutCutRune(data[3:])
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE, 0, 0}):
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), data[4:]
	case bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), data[4:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), data[2:]
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), data[2:]
	}
	if order, ok := utf16WithoutBOM(data); ok {
		return unicode.UTF16(order, unicode.IgnoreBOM), data
	}
	if looksUTF8(data) {
		return nil, withoutCutRune(data)
	}
	return simplifiedchinese.GB18030, data
}

// decoder returns a reader of data decoded from enc (nil for UTF-8: invalid
// bytes read as U+FFFD).
func decoder(enc encoding.Encoding, data []byte) runeReader {
	if enc == nil {
		return bytes.NewReader(data)
	}
	return bufio.NewReader(transform.NewReader(bytes.NewReader(data), enc.NewDecoder()))
}

// utf16WithoutBOM recognizes UTF-16 text of mostly ASCII characters by its
// NUL bytes: in most of the odd positions (little endian) or even ones (big
// endian), and hardly any in the others.
func utf16WithoutBOM(data []byte) (unicode.Endianness, bool) {
	sample := data[:min(len(data), 4096)&^1]
	if len(sample) < 8 {
		return unicode.BigEndian, false
	}
	var even, odd int
	for i := 0; i < len(sample); i += 2 {
		if sample[i] == 0 {
			even++
		}
		if sample[i+1] == 0 {
			odd++
		}
	}
	pairs := len(sample) / 2
	switch {
	case odd*10 >= pairs*4 && even*20 < pairs:
		return unicode.LittleEndian, true
	case even*10 >= pairs*4 && odd*20 < pairs:
		return unicode.BigEndian, true
	}
	return unicode.BigEndian, false
}

// withoutCutRune returns data without the start of a UTF-8 character it
// may end with: a file cut off in the middle of one.
func withoutCutRune(data []byte) []byte {
	for n := 1; n < utf8.UTFMax && n <= len(data); n++ {
		if utf8.RuneStart(data[len(data)-n]) {
			if !utf8.FullRune(data[len(data)-n:]) {
				return data[:len(data)-n]
			}
			break
		}
	}
	return data
}

// looksUTF8 reports whether data is UTF-8: valid, or for all but a few
// invalid bytes among a hundred times more multi-byte characters (text in
// any other encoding of Chinese has far more invalid sequences than valid
// ones), or cut off in the middle of its last character.
func looksUTF8(data []byte) bool {
	if utf8.Valid(data) {
		return true
	}
	var invalid, multi int
	for i := 0; i < len(data); {
		if data[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) {
			break // a character cut off at the end of the data
		}
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			invalid++
		default:
			multi++
		}
		i += size
	}
	return invalid == 0 || invalid*100 <= multi
}

// looksBinary reports whether more than 2% of text (and more than one
// character) is NUL bytes, control characters other than white space and
// escape, or undecodable bytes.
func looksBinary(text io.RuneReader) bool {
	var total, odd int
	for {
		r, _, err := text.ReadRune()
		if err != nil {
			break
		}
		total++
		switch {
		case r == utf8.RuneError,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' && r != '\v' && r != 0x1b,
			r == 0x7f:
			odd++
		}
	}
	return odd > 1 && odd*50 > total // one is a cut-off character, or a stray byte
}
