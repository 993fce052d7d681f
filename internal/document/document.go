// Package document extracts the text of the files users send the robot —
// plain text and source code, HTML, PDF, Word, PowerPoint and Excel — so that
// it can be handed to a language model.
//
// The readers are pure Go and work on the whole file as bytes (the robot
// downloads at most about 10 MB). In the robot they run in a child process
// (package forked), which maps the file the parent downloaded to disk and
// hands its bytes to Extract; the child's limits are a second line of
// defence, not the first. The readers are written for files from
// strangers: they bound what a file may expand to (a zip bomb, a PDF with
// millions of pages) and how much text they return, and a malformed file
// is an error, never a panic.
//
// What a file is read as is decided by its name's extension alone (KindOf),
// so that an unsupported file can be refused before it is downloaded; a file
// whose content is not what its name says is ErrCorrupt.
//
// Extract is safe for concurrent use.
package document

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind is what a file is read as, decided by its name's extension alone
// (case-insensitive).
type Kind string

// The kinds of file this package reads.
const (
	Text Kind = "text" // plain text and source code
	HTML Kind = "html"
	PDF  Kind = "pdf"
	DOCX Kind = "docx"
	PPTX Kind = "pptx"
	XLSX Kind = "xlsx"
)

// Document is the text of a file.
type Document struct {
	Kind Kind
	// Text is the text, paragraphs and rows separated by "\n", trimmed;
	// never empty on success. It is valid UTF-8 and holds no control
	// characters other than "\t" and "\n".
	Text string
	// Truncated reports that Text stopped at MaxRunes.
	Truncated bool
}

// MaxRunes bounds the text read from one file: far more than any model's
// window; the caller cuts further. Reading stops there, rather than building
// a longer text to cut afterwards.
const MaxRunes = 1_000_000

// The errors of Extract. Each is wrapped with detail about the file's
// structure (never its content); match them with errors.Is.
var (
	// ErrUnsupported: the name's extension is not one this package reads,
	// a legacy binary .doc/.xls/.ppt among them.
	ErrUnsupported = errors.New("unsupported file type")
	// ErrCorrupt: the file is not what its name says, or is damaged: a bad
	// zip or PDF, "text" that is binary, XML that does not parse — or is
	// built as no real file is, to make a reader recurse or loop: objects
	// or elements nested hundreds deep, an element with hundreds of
	// attributes, PDF object streams that extend each other in a loop or
	// end inside a string (see pdfbounds.go, xmlbounds.go).
	ErrCorrupt = errors.New("file is damaged or not what its name says")
	// ErrNoText: the file parsed but holds no extractable text: an empty
	// file, an empty sheet, a PDF of scanned images.
	ErrNoText = errors.New("file holds no text")
	// ErrEncrypted: the file is password-protected — or, a PDF, encrypted
	// with AES-256, which this package cannot decrypt even when no password
	// is needed to open it (RC4 and AES-128 it can).
	ErrEncrypted = errors.New("file is password-protected")
	// ErrUnreadableFont: a PDF whose text is in fonts that carry no Unicode
	// mapping (typically fonts embedded without a ToUnicode table), so that
	// its characters cannot be known: this is said instead of returning
	// garbage.
	ErrUnreadableFont = errors.New("PDF fonts carry no text mapping")
	// ErrTooLarge: the file expands past this package's bounds (a zip bomb,
	// too many pages or parts, a single piece of XML of megabytes, millions
	// of elements, PDF objects that would take the library too long to
	// read); see the constants Max….
	ErrTooLarge = errors.New("file expands past the size limits")
)

// Bounds on what one file may make this package read. The input itself is
// the caller's to bound (the robot downloads at most about 10 MB).
const (
	// MaxZipEntries bounds the entries of a .docx, .pptx or .xlsx: one
	// with more is ErrTooLarge. Real documents have tens to hundreds.
	MaxZipEntries = 2000
	// MaxXMLBytes bounds the uncompressed XML read from a .docx or .pptx, all
	// parts together (and, for a .xlsx, everything excelize unzips).
	MaxXMLBytes = 64 << 20
	// MaxSheetXMLBytes is the size above which excelize spills a worksheet
	// or the shared strings of a .xlsx to a temporary file instead of
	// holding it in memory (its UnzipXMLSizeLimit). Held in memory, a
	// sheet costs about seven times its XML; spilled, it is streamed: a
	// 1.5 MB workbook of 60,000 rows peaks at about 25 MB of heap, within
	// the reply function's 128 MB.
	MaxSheetXMLBytes = 2 << 20
	// MaxPDFPages bounds the pages of a PDF: one with more is ErrTooLarge.
	MaxPDFPages = 2000
	// MaxPDFContentBytes bounds the decompressed content streams, form
	// XObjects and ToUnicode CMaps read from a PDF, all together.
	MaxPDFContentBytes = 256 << 20
)

// KindOf returns the kind a file named name is read as, or false when it is
// not a kind this package reads (so that the caller can refuse an
// unsupported file before downloading it). Legacy binary Office files
// (.doc, .xls, .ppt) are refused: the caller can suggest saving them as
// .docx, .xlsx or .pptx.
func KindOf(name string) (Kind, bool) {
	k, ok := kinds[extension(name)]
	return k, ok
}

// Extract reads the text of the file named name, whose content is data.
// Its error is one of the Err… variables, wrapped; its Document is then the
// zero Document.
func Extract(name string, data []byte) (doc Document, err error) {
	kind, ok := KindOf(name)
	if !ok {
		return Document{}, unsupported(name)
	}
	// The parsers, this package's and the libraries', are not all proof
	// against every malformed input: a panic is a file we cannot read.
	defer func() {
		if r := recover(); r != nil {
			if panicHook != nil {
				panicHook(r)
			}
			doc, err = Document{}, fmt.Errorf("%w: the %s could not be parsed", ErrCorrupt, kind)
		}
	}()

	w := newTextWriter(kind != Text, MaxRunes)
	switch kind {
	case Text:
		err = extractText(data, w)
	case HTML:
		err = extractHTML(data, w)
	case PDF:
		err = extractPDF(data, w)
	case DOCX:
		err = extractDOCX(data, w)
	case PPTX:
		err = extractPPTX(data, w)
	case XLSX:
		err = extractXLSX(data, w)
	}
	if err != nil && !errors.Is(err, errFull) {
		return Document{}, err
	}
	text := w.String()
	if text == "" {
		return Document{}, fmt.Errorf("%w: the %s is empty", ErrNoText, kind)
	}
	return Document{Kind: kind, Text: text, Truncated: w.Truncated()}, nil
}

// panicHook, when set (by tests), sees every panic that Extract recovers.
var panicHook func(recovered any)

// extension returns the lower-case extension of name, with its dot: ".txt"
// for "Notes.TXT", ".env" for ".env", "" for "Makefile".
func extension(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(name[i:]))
}

// legacyOffice names the binary Office formats of before 2007, which this
// package does not read, for a clearer error.
var legacyOffice = map[string]string{".doc": ".docx", ".xls": ".xlsx", ".ppt": ".pptx", ".wps": ".docx", ".et": ".xlsx", ".dps": ".pptx"}

func unsupported(name string) error {
	ext := extension(name)
	if !utf8.ValidString(ext) || len(ext) > 16 {
		ext = "?"
	}
	switch {
	case ext == "":
		return fmt.Errorf("%w: the file name has no extension", ErrUnsupported)
	case legacyOffice[ext] != "":
		return fmt.Errorf("%w: %q is a legacy binary Office format (save it as %s)", ErrUnsupported, ext, legacyOffice[ext])
	}
	return fmt.Errorf("%w: %q", ErrUnsupported, ext)
}

var kinds = func() map[string]Kind {
	m := map[string]Kind{
		".html": HTML, ".htm": HTML, ".xhtml": HTML,
		".pdf":  PDF,
		".docx": DOCX, ".pptx": PPTX, ".xlsx": XLSX,
	}
	for _, ext := range strings.Fields(`
		.txt .text .md .markdown .mdx .rst .adoc .org .tex .srt .vtt .log .diff .patch
		.csv .tsv .json .jsonl .ndjson .jsonc .yaml .yml .toml .ini .conf .cfg .properties .env .gitignore
		.xml .xsd .xsl .svg .sql .graphql .gql .proto
		.sh .bash .zsh .fish .ps1 .psm1 .bat .cmd
		.py .pyi .go .java .kt .kts .scala .groovy .gradle .js .mjs .cjs .ts .mts .cts .tsx .jsx .vue .svelte
		.c .h .cc .cpp .cxx .hpp .hh .hxx .cs .vb .rb .php .rs .swift .m .mm .r .lua .pl .dart .hs .ex .exs .erl .clj .jl .zig
		.css .scss .sass .less .tf .hcl .cmake .mk .dockerfile`) {
		m[ext] = Text
	}
	return m
}()
