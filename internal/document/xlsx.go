package document

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/net/html/charset"
)

// maxSheetRows bounds the rows read from all the sheets of a workbook,
// empty ones included. excelize's row iterator steps through every row
// number up to the next row present, so a single row numbered two billion
// would otherwise mean two billion steps; no sheet holds more than Excel's
// 1,048,576 rows.
const maxSheetRows = 4 << 20

// extractXLSX reads an Excel workbook into w: every sheet in order, after a
// line "## <sheet name>", a line per row with its cells separated by tabs
// (the cells' displayed values, as formatted). Empty rows are skipped and
// trailing empty cells dropped; a sheet with no value is left out.
//
// excelize reads the whole package into memory at once. Its own bounds are
// set (UnzipSizeLimit, UnzipXMLSizeLimit), but it checks them against the
// sizes the zip declares, so this package checks them first (MaxZipEntries,
// MaxXMLBytes over the declared sizes: Go's archive/zip fails a part that
// inflates past its declared size, so the declaration binds).
func extractXLSX(data []byte, w *textWriter) error {
	if err := checkCompoundFile(data, XLSX); err != nil {
		return err
	}
	if err := checkXLSXSizes(data); err != nil {
		return err
	}
	if err := checkXLSXParts(data); err != nil {
		return err
	}
	f, err := openWorkbook(data)
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") { // excelize has no sentinel for it
			return fmt.Errorf("%w: the xlsx expands past %d MiB", ErrTooLarge, MaxXMLBytes>>20)
		}
		return fmt.Errorf("%w: the xlsx cannot be opened as a workbook", ErrCorrupt)
	}
	defer f.Close() // removes the temporary files of large sheets

	steps := 0
	for _, sheet := range f.GetSheetList() {
		if err := writeSheet(f, sheet, w, &steps); err != nil {
			return err
		}
	}
	return nil
}

// openWorkbook opens the workbook data with excelize.
//
// excelize takes a file that holds the compound-file signature anywhere —
// not only at its start — for an encrypted workbook, and fails to decrypt
// it: a workbook with an embedded OLE object (a Word document in a cell)
// stored uncompressed holds the signature. Such a workbook is opened again
// recompressed, which hides the signature.
func openWorkbook(data []byte) (*excelize.File, error) {
	opts := excelize.Options{UnzipSizeLimit: MaxXMLBytes, UnzipXMLSizeLimit: MaxSheetXMLBytes}
	f, err := excelize.OpenReader(bytes.NewReader(data), opts)
	if errors.Is(err, excelize.ErrWorkbookFileFormat) && bytes.Contains(data, cfbSignature) {
		if repacked, ok := recompress(data); ok {
			f, err = excelize.OpenReader(bytes.NewReader(repacked), opts)
		}
	}
	return f, err
}

// recompress returns the zip data with every entry deflated.
func recompress(data []byte) ([]byte, bool) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, false
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, false
		}
		w, err := zw.Create(f.Name)
		if err == nil {
			_, err = io.Copy(w, io.LimitReader(rc, MaxXMLBytes))
		}
		rc.Close()
		if err != nil {
			return nil, false
		}
	}
	if zw.Close() != nil {
		return nil, false
	}
	return out.Bytes(), true
}

// checkXLSXSizes refuses a workbook with more than MaxZipEntries parts or
// that declares more than MaxXMLBytes uncompressed.
func checkXLSXSizes(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%w: the xlsx is not a valid zip archive", ErrCorrupt)
	}
	if len(zr.File) > MaxZipEntries {
		return fmt.Errorf("%w: the xlsx has %d parts (at most %d are read)", ErrTooLarge, len(zr.File), MaxZipEntries)
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > MaxXMLBytes {
			return fmt.Errorf("%w: the xlsx expands past %d MiB", ErrTooLarge, MaxXMLBytes>>20)
		}
	}
	return nil
}

// checkXLSXParts reads every part of the workbook data as XML within the
// bounds of boundedXML (nesting, attributes, token length, tokens), before
// excelize is given it: excelize reads its parts with encoding/xml, with
// no bound of its own but a nesting of 10,000 for some, and it finds them
// by the names the workbook's relationships give, so every part is read,
// whatever its name, in the encoding it declares (as excelize reads it).
// A part that is not XML (an image, a printer's settings) ends at its
// first syntax error: excelize stops at the same place, or does not read
// it. The workbook's sizes were checked first (checkXLSXSizes).
func checkXLSXParts(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%w: the xlsx is not a valid zip archive", ErrCorrupt)
	}
	tokens := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if err := scanXMLPart(f, &tokens); err != nil {
			return fmt.Errorf("%w (the xlsx's part %s)", err, clip(f.Name))
		}
	}
	return nil
}

// maxNumFmtBytes bounds a custom number format (a numFmt's formatCode):
// excelize parses a cell's format anew for every cell it formats, so a
// long one costs its length over and over. Excel accepts at most 255
// characters.
const maxNumFmtBytes = 1024

// scanXMLPart reads the XML of the part f within the bounds of
// boundedXML, and a number format no longer than maxNumFmtBytes, and
// returns the error of a bound passed (ErrCorrupt, ErrTooLarge). It reads
// it through a guard alone (scanXMLBytes), or, if the part declares an
// encoding other than UTF-8, again through a decoder that converts it as
// excelize does. A part that is not XML ends at its first syntax error:
// excelize stops at the same place, or does not read it.
func scanXMLPart(f *zip.File, tokens *int) error {
	rc, err := f.Open()
	if err != nil {
		return nil // excelize fails on it as well
	}
	otherEncoding, err := scanXMLBytes(rc, tokens)
	rc.Close()
	if err != nil || !otherEncoding {
		return err
	}
	if rc, err = f.Open(); err != nil {
		return nil
	}
	defer rc.Close()
	return scanXMLDecoded(rc, tokens)
}

// scanXMLDecoded reads the XML of r through a decoder within the bounds
// of boundedXML, converting its encoding as excelize does, with a number
// format no longer than maxNumFmtBytes, and returns the error of a bound
// passed. It stops without error at the first syntax error.
func scanXMLDecoded(r io.Reader, tokens *int) error {
	d := newBoundedXML(r, tokens)
	d.d.CharsetReader = d.guard.charset(charset.NewReaderLabel)
	d.raw = true
	for {
		tok, err := d.Token()
		if err != nil {
			if isBoundError(err) {
				return err
			}
			return nil
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "numFmt" {
			for _, a := range el.Attr {
				if a.Name.Local == "formatCode" && len(a.Value) > maxNumFmtBytes {
					return errXMLNumFmt
				}
			}
		}
	}
}

// writeSheet writes the rows of sheet, counting the rows it steps through
// in steps.
func writeSheet(f *excelize.File, sheet string, w *textWriter, steps *int) error {
	rows, err := f.Rows(sheet)
	if err != nil {
		return fmt.Errorf("%w: a sheet of the xlsx cannot be read", ErrCorrupt)
	}
	defer rows.Close()
	header := false
	for rows.Next() {
		if *steps++; *steps > maxSheetRows {
			return fmt.Errorf("%w: the xlsx has more than %d rows", ErrTooLarge, maxSheetRows)
		}
		cells, err := rows.Columns()
		if err != nil {
			return fmt.Errorf("%w: a sheet of the xlsx cannot be read", ErrCorrupt)
		}
		for len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
			cells = cells[:len(cells)-1]
		}
		if len(cells) == 0 {
			continue
		}
		if !header {
			header = true
			if err := w.WriteString("\n\n## " + sheet + "\n"); err != nil {
				return err
			}
		}
		for i, cell := range cells {
			if i > 0 {
				if err := w.WriteRune('\t'); err != nil {
					return err
				}
			}
			// A cell's own line breaks and tabs would break the row apart.
			for _, r := range cell {
				if r == '\n' || r == '\r' || r == '\t' {
					r = ' '
				}
				if err := w.WriteRune(r); err != nil {
					return err
				}
			}
		}
		if err := w.WriteRune('\n'); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return fmt.Errorf("%w: a sheet of the xlsx cannot be read", ErrCorrupt)
	}
	return nil
}
