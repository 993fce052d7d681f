package document_test

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// This file builds hostile PDFs: deep nesting, object streams that extend
// each other in loops, that end inside a hex string, or that the file's
// references make recurse. Each is a small, otherwise well-formed file
// (true offsets, a cross-reference stream) so that what it tests is the
// one hostile structure, not damage the library stops at first.

// pdfObject is an object of a hostilePDF: its body (a dictionary, an
// array, or a stream made with pdfStream), or, inStream > 0, its place in
// the object stream numbered inStream.
type pdfObject struct {
	body     string
	inStream int // the object number of the object stream that holds it
	index    int // its index in that stream
	streamOf int // a number given to the xref entry as its object stream, to lie with
}

// pdfStream returns a stream object's text, its data compressed if
// compress; dict holds the dictionary's other entries ("" or "/K v …"),
// and length, when not "", stands for its /Length.
func pdfStream(dict string, data []byte, compress bool, length string) string {
	if compress {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data, dict = z.Bytes(), dict+" /Filter /FlateDecode"
	}
	if length == "" {
		length = fmt.Sprint(len(data))
	}
	return fmt.Sprintf("<< /Length %s %s >>\nstream\n%s\nendstream", length, dict, data)
}

// objectStreamData returns the data of an object stream holding objects,
// numbered nums, and the offset of the first (its /First).
func objectStreamData(nums []int, objects []string) (data []byte, first int) {
	var header, body strings.Builder
	for i, o := range objects {
		fmt.Fprintf(&header, "%d %d ", nums[i], body.Len())
		body.WriteString(o + "\n")
	}
	return []byte(header.String() + body.String()), header.Len()
}

// hostilePDF returns a PDF of objects numbered from 1, whose catalog is
// object 1, with a cross-reference stream (the last object) that places
// each object where it says: at its offset, or in its object stream.
func hostilePDF(objects []pdfObject, trailer ...string) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects)+1)
	for i, o := range objects {
		if o.inStream > 0 {
			continue
		}
		offsets[i+1] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o.body)
	}
	xrefNum := len(objects) + 1
	xrefAt := out.Len()
	var table bytes.Buffer
	entry := func(typ byte, a uint32, b uint16) {
		table.WriteByte(typ)
		binary.Write(&table, binary.BigEndian, a)
		binary.Write(&table, binary.BigEndian, b)
	}
	entry(0, 0, 65535)
	for i, o := range objects {
		switch {
		case o.streamOf > 0:
			entry(2, uint32(o.streamOf), 0)
		case o.inStream > 0:
			entry(2, uint32(o.inStream), uint16(o.index))
		default:
			entry(1, uint32(offsets[i+1]), 0)
		}
	}
	entry(1, uint32(xrefAt), 0)
	fmt.Fprintf(&out, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d %s >>\nstream\n", xrefNum, xrefNum+1, table.Len(), strings.Join(trailer, " "))
	out.Write(table.Bytes())
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefAt)
	return out.Bytes()
}

const resources = "<< /Font << /F1 7 0 R >> >>"

// objStmPDF returns a one-page PDF showing "Hello" whose page resources
// (object 6) are compressed in the object stream 5. streamDict adds
// entries to that stream's dictionary; data, when not nil, replaces its
// data; extra objects follow as 8, 9, …
func objStmPDF(streamDict string, data []byte, first int, compress bool, extra ...pdfObject) []byte {
	if data == nil {
		data, first = objectStreamData([]int{6}, []string{resources})
	}
	objects := []pdfObject{
		{body: "<< /Type /Catalog /Pages 2 0 R >>"},
		{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 6 0 R /Contents 4 0 R >>"},
		{body: pdfStream("", []byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET"), false, "")},
		{body: pdfStream(fmt.Sprintf("/Type /ObjStm /N 1 /First %d %s", first, streamDict), data, compress, "")},
		{inStream: 5},
		{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"},
	}
	return hostilePDF(append(objects, extra...))
}

// contentPDF returns a one-page PDF whose content stream, compressed, is
// content.
func contentPDF(content []byte) []byte {
	return hostilePDF([]pdfObject{
		{body: "<< /Type /Catalog /Pages 2 0 R >>"},
		{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"},
		{body: pdfStream("", content, true, "")},
		{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"},
	})
}

// rawObjectPDF returns a one-page PDF showing "Hello" whose page has the
// entry /Extra obj, obj written raw in the file.
func rawObjectPDF(obj string) []byte {
	return hostilePDF([]pdfObject{
		{body: "<< /Type /Catalog /Pages 2 0 R >>"},
		{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Extra " + obj + " >>"},
		{body: pdfStream("", []byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET"), false, "")},
		{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"},
	})
}

// The hostile structures, by name, for the tests, the benchmarks and the
// fuzz seeds.

func deepArrays(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
func deepDicts(n int) string  { return strings.Repeat("<< /A ", n) + strings.Repeat(">> ", n) }
func deepMixed(n int) string {
	return strings.Repeat("[<< /A ", n/2) + strings.Repeat(">>]", n/2)
}

// objStmChain returns a PDF whose object stream 5 extends 8, which
// extends 9, … n streams in all; with loop, the last extends 5.
func objStmChain(n int, loop bool) []byte {
	var extra []pdfObject
	extends := " /Extends 8 0 R"
	if n == 1 {
		extends = ""
		if loop {
			extends = " /Extends 5 0 R"
		}
	}
	for i := 1; i < n; i++ {
		next := fmt.Sprintf(" /Extends %d 0 R", 8+i)
		data, first := objectStreamData([]int{100 + i}, []string{"null"})
		switch {
		case i == n-1 && loop:
			next = " /Extends 5 0 R"
		case i == n-1:
			// The last stream holds object 6: the library finds it at the
			// end of the chain.
			next = ""
			data, first = objectStreamData([]int{6}, []string{resources})
		}
		extra = append(extra, pdfObject{body: pdfStream(fmt.Sprintf("/Type /ObjStm /N 1 /First %d%s", first, next), data, true, "")})
	}
	data, first := objectStreamData([]int{99}, []string{"null"})
	if n == 1 && !loop {
		data, first = nil, 0
	}
	return objStmPDF(extends, data, first, true, extra...)
}

// encryptedObjStmPDF is objStmPDF (its object stream's data, at first,
// compressed), encrypted with RC4 128-bit (revision 3) and the empty user
// password: the library opens it, and decrypts its streams.
func encryptedObjStmPDF(data []byte, first int) []byte {
	pad := []byte("\x28\xBF\x4E\x5E\x4E\x75\x8A\x41\x64\x00\x4E\x56\xFF\xFA\x01\x08\x2E\x2E\x00\xB6\xD0\x68\x3E\x80\x2F\x0C\xA9\xFE\x64\x53\x69\x7A")
	owner := bytes.Repeat([]byte{0x5a}, 32) // any: it only enters the key
	id := []byte("0123456789abcdef")
	const permissions = -3904
	h := md5.New()
	h.Write(pad)
	h.Write(owner)
	binary.Write(h, binary.LittleEndian, int32(permissions))
	h.Write(id)
	key := h.Sum(nil)
	for range 50 {
		sum := md5.Sum(key)
		key = sum[:]
	}
	u := md5.Sum(append(bytes.Clone(pad), id...))
	for i := 0; i <= 19; i++ {
		k := bytes.Clone(key)
		for j := range k {
			k[j] ^= byte(i)
		}
		c, _ := rc4.NewCipher(k)
		c.XORKeyStream(u[:], u[:])
	}
	encrypt := func(num int, b []byte) []byte {
		sum := md5.Sum(append(bytes.Clone(key), byte(num), byte(num>>8), byte(num>>16), 0, 0))
		c, _ := rc4.NewCipher(sum[:])
		out := make([]byte, len(b))
		c.XORKeyStream(out, b)
		return out
	}
	compressed := func(b []byte) []byte {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		return z.Bytes()
	}
	if data == nil {
		data, first = objectStreamData([]int{6}, []string{resources})
	}
	content := encrypt(4, []byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET"))
	stream := encrypt(5, compressed(data))
	objects := []pdfObject{
		{body: "<< /Type /Catalog /Pages 2 0 R >>"},
		{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 6 0 R /Contents 4 0 R >>"},
		{body: fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)},
		{body: fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", first, len(stream), stream)},
		{inStream: 5},
		{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"},
		{body: fmt.Sprintf("<< /Filter /Standard /V 2 /R 3 /Length 128 /P %d /O <%x> /U <%x%s> >>", permissions, owner, u, strings.Repeat("00", 16))},
	}
	return hostilePDF(objects, "/Encrypt 8 0 R", "/ID [<"+hex.EncodeToString(id)+"> <"+hex.EncodeToString(id)+">]")
}
