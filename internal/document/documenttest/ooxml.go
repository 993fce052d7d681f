package documenttest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"
)

const (
	nsWord     = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsDrawing  = "http://schemas.openxmlformats.org/drawingml/2006/main"
	nsPresent  = "http://schemas.openxmlformats.org/presentationml/2006/main"
	nsRelation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	relOffice  = nsRelation + "/officeDocument"
	relSlide   = nsRelation + "/slide"
)

// DOCX returns a minimal valid .docx ([Content_Types].xml, _rels/.rels,
// word/document.xml) with one paragraph per argument. In a paragraph, "\t"
// becomes a tab (<w:tab/>) and "\n" a line break (<w:br/>); anything else,
// CJK included, is text.
func DOCX(paragraphs ...string) []byte {
	var body strings.Builder
	for _, p := range paragraphs {
		body.WriteString("<w:p>")
		for i, line := range strings.Split(p, "\n") {
			if i > 0 {
				body.WriteString("<w:r><w:br/></w:r>")
			}
			for j, cell := range strings.Split(line, "\t") {
				if j > 0 {
					body.WriteString("<w:r><w:tab/></w:r>")
				}
				if cell != "" {
					fmt.Fprintf(&body, `<w:r><w:t xml:space="preserve">%s</w:t></w:r>`, escape(cell))
				}
			}
		}
		body.WriteString("</w:p>")
	}
	return DOCXBody(body.String())
}

// DOCXBody returns a minimal valid .docx whose w:body holds bodyXML verbatim,
// written with the prefix w: for the WordprocessingML namespace, e.g.
// `<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`.
func DOCXBody(bodyXML string) []byte {
	document := xml.Header +
		`<w:document xmlns:w="` + nsWord + `"><w:body>` + bodyXML + `<w:sectPr/></w:body></w:document>`
	return Zip(
		ZipEntry{"[Content_Types].xml", []byte(xml.Header +
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`</Types>`)},
		ZipEntry{"_rels/.rels", relationships(relation{"rId1", relOffice, "word/document.xml"})},
		ZipEntry{"word/document.xml", []byte(document)},
	)
}

// PPTX returns a .pptx with one slide per argument, each showing its lines
// as paragraphs of one text box. It holds what a reader of the text needs —
// ppt/presentation.xml with the slide list, its relationships, and
// ppt/slides/slideN.xml — but no masters, layouts or theme, which PowerPoint
// itself would also want. Its zip entries are in name order, so that slide10
// comes before slide2 in the archive, as a careless reader would take them.
func PPTX(slides ...[]string) []byte {
	var types, list strings.Builder
	rels := make([]relation, 0, len(slides))
	entries := make([]ZipEntry, 0, len(slides)+4)
	for i, lines := range slides {
		n := i + 1
		fmt.Fprintf(&types, `<Override PartName="/ppt/slides/slide%d.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>`, n)
		fmt.Fprintf(&list, `<p:sldId id="%d" r:id="rId%d"/>`, 255+n, n+1)
		rels = append(rels, relation{fmt.Sprintf("rId%d", n+1), relSlide, fmt.Sprintf("slides/slide%d.xml", n)})
		entries = append(entries, ZipEntry{fmt.Sprintf("ppt/slides/slide%d.xml", n), slideXML(lines)})
	}
	entries = append(entries,
		ZipEntry{"[Content_Types].xml", []byte(xml.Header +
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>` +
			types.String() + `</Types>`)},
		ZipEntry{"_rels/.rels", relationships(relation{"rId1", relOffice, "ppt/presentation.xml"})},
		ZipEntry{"ppt/presentation.xml", []byte(xml.Header +
			`<p:presentation xmlns:a="` + nsDrawing + `" xmlns:r="` + nsRelation + `" xmlns:p="` + nsPresent + `">` +
			`<p:sldIdLst>` + list.String() + `</p:sldIdLst>` +
			`<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>`)},
		ZipEntry{"ppt/_rels/presentation.xml.rels", relationships(rels...)},
	)
	slices.SortFunc(entries, func(a, b ZipEntry) int { return strings.Compare(a.Name, b.Name) })
	return Zip(entries...)
}

// PPTXSlide returns the XML of a slide showing lines, one paragraph each, for
// a test that assembles its own .pptx with Zip.
func PPTXSlide(lines ...string) []byte { return slideXML(lines) }

func slideXML(lines []string) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<p:sld xmlns:a="` + nsDrawing + `" xmlns:r="` + nsRelation + `" xmlns:p="` + nsPresent + `">`)
	b.WriteString(`<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>`)
	b.WriteString(`<p:sp><p:nvSpPr><p:cNvPr id="2" name="TextBox 1"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr/>`)
	b.WriteString(`<p:txBody><a:bodyPr/><a:lstStyle/>`)
	for _, line := range lines {
		fmt.Fprintf(&b, `<a:p><a:r><a:rPr lang="zh-CN"/><a:t>%s</a:t></a:r></a:p>`, escape(line))
	}
	b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
	return []byte(b.String())
}

// Sheet is one worksheet of a workbook built by XLSX.
type Sheet struct {
	Name string
	Rows [][]string
}

// XLSX returns a .xlsx written by excelize with the given sheets, in order;
// every cell is a string cell. With no sheet it holds one empty "Sheet1".
func XLSX(sheets ...Sheet) []byte {
	f := excelize.NewFile()
	defer f.Close()
	for i, s := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.Name); err != nil {
				panic(err)
			}
		} else if _, err := f.NewSheet(s.Name); err != nil {
			panic(err)
		}
		for r, row := range s.Rows {
			cell, err := excelize.CoordinatesToCellName(1, r+1)
			if err != nil {
				panic(err)
			}
			if err := f.SetSheetRow(s.Name, cell, &row); err != nil {
				panic(err)
			}
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// ZipBomb returns a small zip, shaped like a .docx ([Content_Types].xml and
// _rels/.rels are there), whose entry named entry expands to size bytes of
// well-formed WordprocessingML: "<w:t>a</w:t>" over and over in one run.
// 200 MiB compress to about 200 KB.
//
// It is generated in a few tens of milliseconds: one chunk is compressed once
// and its deflate blocks are repeated (a chunk flushed but not closed ends on
// a byte boundary and refers to nothing before itself, so copies of it can
// follow each other), and the archive stores the result raw with the true
// sizes and CRC in its headers — a reader that trusts those sizes rejects it
// at once, one that does not must stop reading by itself.
func ZipBomb(entry string, size int64) []byte {
	const (
		head    = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="` + nsWord + `"><w:body><w:p><w:r>`
		tail    = `</w:r></w:p></w:body></w:document>`
		pattern = "<w:t>a</w:t>"
	)
	chunk := []byte(strings.Repeat(pattern, (1<<20)/len(pattern))) // ~1 MiB
	fill := max(size-int64(len(head)+len(tail)), 0)
	full, rest := fill/int64(len(chunk)), fill%int64(len(chunk))
	// The remainder is whole patterns padded with spaces, which a run may hold.
	restXML := strings.Repeat(pattern, int(rest)/len(pattern)) + strings.Repeat(" ", int(rest)%len(pattern))

	var compressed bytes.Buffer
	crc := crc32.NewIEEE()
	deflate := func(b []byte, times int64) {
		var block bytes.Buffer
		fw, err := flate.NewWriter(&block, flate.BestCompression)
		if err != nil {
			panic(err)
		}
		fw.Write(b)
		fw.Flush()
		for range times {
			compressed.Write(block.Bytes())
			crc.Write(b)
		}
	}
	deflate([]byte(head), 1)
	deflate(chunk, full)
	deflate([]byte(restXML+tail), 1)
	compressed.Write([]byte{0x03, 0x00}) // an empty final block ends the stream

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []ZipEntry{
		{"[Content_Types].xml", []byte(xml.Header + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)},
		{"_rels/.rels", relationships(relation{"rId1", relOffice, "word/document.xml"})},
	} {
		w, err := zw.Create(e.Name)
		if err != nil {
			panic(err)
		}
		w.Write(e.Data)
	}
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               entry,
		Method:             zip.Deflate,
		CRC32:              crc.Sum32(),
		CompressedSize64:   uint64(compressed.Len()),
		UncompressedSize64: uint64(len(head)+len(tail)) + uint64(fill),
	})
	if err != nil {
		panic(err)
	}
	if _, err := io.Copy(w, &compressed); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

type relation struct{ id, typ, target string }

func relationships(rels ...relation) []byte {
	var b strings.Builder
	b.WriteString(xml.Header + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	for _, r := range rels {
		fmt.Fprintf(&b, `<Relationship Id="%s" Type="%s" Target="%s"/>`, r.id, r.typ, r.target)
	}
	b.WriteString(`</Relationships>`)
	return []byte(b.String())
}

func escape(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		panic(err)
	}
	return b.String()
}
