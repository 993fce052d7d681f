package document

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"io"
)

// This file decrypts, as the library does, the object streams of a PDF
// encrypted with an empty user password (encrypted only to restrict
// copying or printing), so that checkObjectStreams sees what the library
// will read in them. It follows the library's initEncrypt, decryptStream
// and cryptKey (github.com/ledongthuc/pdf, read.go) — including where they
// depart from the standard (an object's key is always 16 bytes) — since
// what matters is what the library reads.

// pdfDecrypter decrypts the streams of one file.
type pdfDecrypter struct {
	key    []byte
	useAES bool
}

// passwordPad pads a password (PDF 32000-1:2008, 7.6.3.3).
var passwordPad = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

// newPDFDecrypter returns the decrypter of the file whose last trailer
// has the /Encrypt entry, found in the raw file, as the library would
// open it with the empty password; false if the library would not open
// it (another password, another handler), or if the entries cannot be
// found raw.
func newPDFDecrypter(f *rawFile) (*pdfDecrypter, bool) {
	encrypt := f.resolve(lastEntry(f.data, "/Encrypt"))
	ids := f.resolve(lastEntry(f.data, "/ID"))
	if encrypt.kind != tokDict || ids.kind != tokArray || len(ids.array) == 0 || ids.array[0].kind != tokString {
		return nil, false
	}
	e := encrypt.dict
	entry := func(key string) pdfToken { return f.resolve(e[key]) }
	if f := entry("Filter"); f.kind != tokName || f.text != "Standard" {
		return nil, false
	}
	bits := int64(40)
	if n := entry("Length"); n.kind == tokNumber && n.num != 0 {
		bits = int64(n.num)
	}
	v, r, p := int64(entry("V").num), int64(entry("R").num), int64(entry("P").num)
	o, u := entry("O"), entry("U")
	if bits%8 != 0 || bits < 40 || bits > 128 || r < 2 || r > 4 || v != 1 && v != 2 && v != 4 ||
		o.kind != tokString || u.kind != tokString || len(o.text) != 32 || len(u.text) != 32 {
		return nil, false
	}
	if v == 4 {
		cf := entry("CF")
		std := cf.dict[entry("StmF").text]
		if cf.kind != tokDict || std.kind != tokDict || std.dict["CFM"].text != "AESV2" {
			return nil, false
		}
	}
	h := md5.New()
	h.Write(passwordPad)
	h.Write([]byte(o.text))
	binary.Write(h, binary.LittleEndian, uint32(p))
	h.Write([]byte(ids.array[0].text))
	key := h.Sum(nil)
	if r >= 3 {
		for range 50 {
			sum := md5.Sum(key[:bits/8])
			key = sum[:]
		}
		key = key[:bits/8]
	} else {
		key = key[:5]
	}
	// The empty password must open it, as the library checks.
	c, err := rc4.NewCipher(key)
	if err != nil {
		return nil, false
	}
	var want []byte
	if r == 2 {
		want = bytes.Clone(passwordPad)
		c.XORKeyStream(want, want)
	} else {
		h.Reset()
		h.Write(passwordPad)
		h.Write([]byte(ids.array[0].text))
		want = h.Sum(nil)
		c.XORKeyStream(want, want)
		for i := 1; i <= 19; i++ {
			k := bytes.Clone(key)
			for j := range k {
				k[j] ^= byte(i)
			}
			c, _ := rc4.NewCipher(k)
			c.XORKeyStream(want, want)
		}
	}
	if !bytes.HasPrefix([]byte(u.text), want) {
		return nil, false
	}
	return &pdfDecrypter{key: key, useAES: v == 4}, true
}

// stream returns a reader of the decrypted data r of the stream object
// num gen.
func (d *pdfDecrypter) stream(num, gen int64, r io.Reader) io.Reader {
	h := md5.New()
	h.Write(d.key)
	h.Write([]byte{byte(num), byte(num >> 8), byte(num >> 16), byte(gen), byte(gen >> 8)})
	if d.useAES {
		h.Write([]byte("sAlT"))
	}
	key := h.Sum(nil)
	if !d.useAES {
		c, _ := rc4.NewCipher(key)
		return &cipher.StreamReader{S: c, R: r}
	}
	block, _ := aes.NewCipher(key)
	iv := make([]byte, aes.BlockSize)
	io.ReadFull(r, iv)
	return &cbcReader{cbc: cipher.NewCBCDecrypter(block, iv), r: r, buf: make([]byte, aes.BlockSize)}
}

// cbcReader decrypts AES-CBC block by block, as the library's does (the
// padding is left in).
type cbcReader struct {
	cbc  cipher.BlockMode
	r    io.Reader
	buf  []byte
	pend []byte
}

func (c *cbcReader) Read(b []byte) (int, error) {
	if len(c.pend) == 0 {
		if _, err := io.ReadFull(c.r, c.buf); err != nil {
			return 0, err
		}
		c.cbc.CryptBlocks(c.buf, c.buf)
		c.pend = c.buf
	}
	n := copy(b, c.pend)
	c.pend = c.pend[n:]
	return n, nil
}

// lastEntry returns the value of the last entry key ("/ID") in the raw
// file that has one: a token, an array, a dictionary (see readRawDict).
func lastEntry(file []byte, key string) pdfToken {
	for end := len(file); end > 0; {
		k := bytes.LastIndex(file[:end], []byte(key))
		if k < 0 {
			break
		}
		end = k
		rest := file[k+len(key):]
		if len(rest) > 0 && !isPDFSpace(rest[0]) && !isPDFDelim(rest[0]) {
			continue // a longer name
		}
		l := newSmallPDFLexer(bytes.NewReader(rest))
		switch tok := l.next(); tok.kind {
		case tokDictOpen:
			if d, ok := l.rawDict(1); ok {
				return pdfToken{kind: tokDict, dict: d}
			}
		case tokArrayOpen:
			return l.readOperand(tok)
		case tokNumber:
			gen, r := l.next(), l.next()
			if gen.kind == tokNumber && r.kind == tokKeyword && r.text == "R" {
				return pdfToken{kind: tokArray, array: []pdfToken{tok, gen, r}}
			}
		}
	}
	return pdfToken{}
}
