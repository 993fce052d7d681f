package document

import (
	"fmt"
	"path"
)

// extractDOCX reads a Word document into w: the body's paragraphs, tabs and
// line breaks as they are, table rows as lines of tab-separated cells, text
// boxes where they are anchored; then the footnotes and endnotes. Headers,
// footers and comments are left out.
func extractDOCX(data []byte, w *textWriter) error {
	pkg, err := openOOXML(data, DOCX)
	if err != nil {
		return err
	}
	main, err := pkg.mainPart("word/document.xml")
	if err != nil {
		return err
	}
	if !pkg.has(main) {
		return fmt.Errorf("%w: the docx has no document part (word/document.xml)", ErrCorrupt)
	}
	if err := pkg.writeMarkupText(main, w); err != nil {
		return err
	}
	for _, notes := range []string{"footnotes.xml", "endnotes.xml"} {
		part := path.Join(path.Dir(main), notes)
		if !pkg.has(part) {
			continue
		}
		if err := w.WriteString("\n\n"); err != nil {
			return err
		}
		if err := pkg.writeMarkupText(part, w); err != nil {
			return err
		}
	}
	return nil
}
