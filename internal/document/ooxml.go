package document

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
)

// cfbSignature opens every OLE compound file: a legacy binary .doc, .xls or
// .ppt — or a password-protected .docx, .xlsx or .pptx, which Office writes
// as a compound file holding an EncryptedPackage stream instead of a zip.
var cfbSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// encryptedPackage is the name of that stream as a compound file's
// directory spells it, in UTF-16LE.
var encryptedPackage = []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00")

// checkCompoundFile returns ErrEncrypted for an encrypted Office file, and
// ErrUnsupported for a legacy binary one renamed .docx, .xlsx or .pptx —
// both are compound files, not zips.
func checkCompoundFile(data []byte, kind Kind) error {
	if !bytes.HasPrefix(data, cfbSignature) {
		return nil
	}
	if bytes.Contains(data, encryptedPackage) {
		return fmt.Errorf("%w: the %s is encrypted", ErrEncrypted, kind)
	}
	return fmt.Errorf("%w: the %s is in fact a legacy binary Office file (.doc, .xls or .ppt): save it as .%s", ErrUnsupported, kind, kind)
}

// ooxmlPackage is an Office Open XML file (.docx, .pptx): a zip of XML parts,
// read within the bounds MaxZipEntries and MaxXMLBytes.
type ooxmlPackage struct {
	kind   Kind
	parts  map[string]*zip.File // by partKey
	budget int64                // uncompressed bytes that may still be read
	tokens int                  // XML tokens read, of all parts (maxXMLTokens)
}

func openOOXML(data []byte, kind Kind) (*ooxmlPackage, error) {
	if err := checkCompoundFile(data, kind); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil // names like "../x" are harmless here: nothing is written to disk
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the %s is not a valid zip archive", ErrCorrupt, kind)
	}
	if len(zr.File) > MaxZipEntries {
		return nil, fmt.Errorf("%w: the %s has %d parts (at most %d are read)", ErrTooLarge, kind, len(zr.File), MaxZipEntries)
	}
	p := &ooxmlPackage{kind: kind, parts: make(map[string]*zip.File, len(zr.File)), budget: MaxXMLBytes}
	for _, f := range zr.File {
		if key := partKey(f.Name); p.parts[key] == nil {
			p.parts[key] = f
		}
	}
	return p, nil
}

// partKey is how a part is looked up: part names are case-insensitive, and
// some writers use backslashes or a leading slash.
func partKey(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	return strings.ToLower(strings.TrimPrefix(path.Clean("/"+name), "/"))
}

// has reports whether the package holds the part name.
func (p *ooxmlPackage) has(name string) bool { return p.parts[partKey(name)] != nil }

// open returns a reader of the part name, which fails with ErrTooLarge once
// the package's budget is spent. A part whose declared size is already past
// the budget is refused before a byte is inflated; the budget still holds
// against a zip that lies about sizes (archive/zip itself also stops at the
// declared size, with an error).
func (p *ooxmlPackage) open(name string) (io.ReadCloser, error) {
	f := p.parts[partKey(name)]
	if f == nil {
		return nil, fmt.Errorf("%w: the %s has no part %s", ErrCorrupt, p.kind, clip(name))
	}
	if f.UncompressedSize64 > uint64(p.budget) {
		return nil, p.tooLarge()
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: the %s's part %s cannot be decompressed", ErrCorrupt, p.kind, clip(name))
	}
	return &budgetReader{rc: rc, pkg: p}, nil
}

func (p *ooxmlPackage) tooLarge() error {
	return fmt.Errorf("%w: the %s expands past %d MiB of XML", ErrTooLarge, p.kind, MaxXMLBytes>>20)
}

// budgetReader reads a part, charging what it reads to its package's budget.
type budgetReader struct {
	rc  io.ReadCloser
	pkg *ooxmlPackage
}

func (r *budgetReader) Read(b []byte) (int, error) {
	if r.pkg.budget <= 0 {
		// Spent: the part may still be exactly done, or there is more.
		var one [1]byte
		if n, err := r.rc.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, r.pkg.tooLarge()
	}
	if int64(len(b)) > r.pkg.budget {
		b = b[:r.pkg.budget]
	}
	n, err := r.rc.Read(b)
	r.pkg.budget -= int64(n)
	return n, err
}

func (r *budgetReader) Close() error { return r.rc.Close() }

// decodeXML reads the part name token by token, calling each for every
// token, within the bounds of boundedXML (its tokens counted with the
// package's). It returns ErrCorrupt if the part is not well-formed XML,
// the error of a bound passed (ErrCorrupt or ErrTooLarge), and the error
// of each as is — but errSkipElement, returned for a start element, which
// skips that element.
func (p *ooxmlPackage) decodeXML(name string, each func(tok xml.Token) error) error {
	rc, err := p.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := newBoundedXML(rc, &p.tokens)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.xmlError(name, err)
		}
		err = each(tok)
		if errors.Is(err, errSkipElement) {
			err = d.skip()
		}
		if err != nil {
			if errors.Is(err, errFull) {
				return err
			}
			return p.xmlError(name, err)
		}
	}
}

// errSkipElement, from decodeXML's callback, skips the element just
// started.
var errSkipElement = errors.New("document: skip this element")

// xmlError turns an error reading the part name into one of the package's
// errors, without the XML's own words (they may quote the content).
func (p *ooxmlPackage) xmlError(name string, err error) error {
	var syntax *xml.SyntaxError
	switch {
	case isBoundError(err):
		return fmt.Errorf("%w (the %s's part %s)", err, p.kind, clip(name))
	case errors.Is(err, ErrTooLarge), errors.Is(err, errFull), errors.Is(err, ErrCorrupt):
		return err
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: the %s's part %s is not well-formed XML (line %d)", ErrCorrupt, p.kind, clip(name), syntax.Line)
	}
	return fmt.Errorf("%w: the %s's part %s cannot be read", ErrCorrupt, p.kind, clip(name))
}

// mainPart returns the part that the package's relationships name as the
// main document, or fallback if they name none that exists or cannot be
// read — but relationships past this package's bounds are their error.
func (p *ooxmlPackage) mainPart(fallback string) (string, error) {
	rels, err := p.relationships("")
	if isBoundError(err) {
		return "", err
	}
	if err == nil {
		for _, r := range rels {
			if strings.HasSuffix(r.typ, "/officeDocument") && p.has(r.target) {
				return r.target, nil
			}
		}
	}
	return fallback, nil
}

type relationship struct{ id, typ, target string }

// relationships returns the relationships of the part source ("" for the
// package), with targets resolved to part names; none if it has none.
func (p *ooxmlPackage) relationships(source string) ([]relationship, error) {
	dir, file := path.Split(source)
	relsName := path.Join(dir, "_rels", file+".rels")
	if !p.has(relsName) {
		return nil, nil
	}
	var rels []relationship
	err := p.decodeXML(relsName, func(tok xml.Token) error {
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "Relationship" {
			return nil
		}
		var r relationship
		external := false
		for _, a := range el.Attr {
			switch a.Name.Local {
			case "Id":
				r.id = a.Value
			case "Type":
				r.typ = a.Value
			case "Target":
				r.target = a.Value
			case "TargetMode":
				external = strings.EqualFold(a.Value, "External")
			}
		}
		if !external && r.target != "" {
			r.target = resolvePart(dir, r.target)
			rels = append(rels, r)
		}
		return nil
	})
	return rels, err
}

// resolvePart returns the part name that target, relative to the folder
// dir of the part that refers to it, names.
func resolvePart(dir, target string) string {
	if t, err := url.PathUnescape(target); err == nil {
		target = t
	}
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Clean("/"+dir+target), "/")
}

// writeMarkupText writes the text of the part name, WordprocessingML (.docx)
// or DrawingML (.pptx): the two spell paragraphs, runs, text, tabs, breaks
// and tables with the same local names in their own namespaces (w:p, a:p;
// w:t, a:t; w:tc, a:tc …), so one walker reads both.
//
// Each paragraph ends a line (an empty one makes a blank line), but in a
// table cell, where paragraphs are joined by spaces so that a row stays on
// one line: cells end with a tab, rows with a line end. Only the text of text elements is taken: deleted
// text (w:delText), field codes (w:instrText) and properties are not. Of a
// markup-compatibility choice (mc:AlternateContent, around text boxes and
// shapes) only the first branch is read: the fallback repeats it.
func (p *ooxmlPackage) writeMarkupText(name string, w *textWriter) error {
	var text, runs, cells int // depths
	return p.decodeXML(name, func(tok xml.Token) error {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Fallback":
				return errSkipElement
			case "t":
				text++
			case "r":
				runs++
			case "tc":
				cells++
			case "tab":
				if runs > 0 {
					return w.WriteRune('\t')
				}
			case "br", "cr":
				return w.WriteRune('\n')
			case "noBreakHyphen":
				if runs > 0 {
					return w.WriteRune('-')
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				text = max(text-1, 0)
			case "r":
				runs = max(runs-1, 0)
			case "p":
				if cells > 0 {
					return w.WriteRune(' ')
				}
				return w.WriteRune('\n')
			case "tc":
				cells = max(cells-1, 0)
				return w.WriteRune('\t')
			case "tr", "tbl", "txbxContent":
				return w.LineBreak()
			}
		case xml.CharData:
			if text > 0 {
				return w.WriteString(string(t))
			}
		}
		return nil
	})
}

// clip shortens a part name for an error message: names come from the file.
func clip(name string) string {
	const maxName = 64
	if len(name) > maxName {
		return fmt.Sprintf("%q…", name[:maxName])
	}
	return fmt.Sprintf("%q", name)
}
