package document_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
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
func hostilePDF(objects []pdfObject) []byte {
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
	fmt.Fprintf(&out, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", xrefNum, xrefNum+1, table.Len())
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
