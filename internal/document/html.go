package document

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// extractHTML reads the visible text of an HTML page into w: the title as
// the first line, then the body, block elements on lines of their own and
// table cells separated by tabs. Scripts, styles and the like are skipped.
// The encoding is guessed as for plain text; a <meta charset> is not
// consulted (UTF-8 and GB18030 cover the pages Chinese users send).
func extractHTML(data []byte, w *textWriter) error {
	text, err := decodeText(data)
	if err != nil {
		return err
	}
	z := html.NewTokenizer(text)
	var (
		hidden int          // depth in elements whose text is not shown
		pre    int          // depth in elements that keep their line breaks
		tables []tableFrame // the open tables, innermost last
	)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return nil
			}
			return fmt.Errorf("%w: the HTML cannot be read", ErrCorrupt)

		case html.TextToken:
			if hidden > 0 {
				continue
			}
			for _, r := range string(z.Text()) {
				if r == '\n' && pre > 0 {
					err = w.WriteRune('\n')
				} else if isHTMLSpace(r) {
					err = w.WriteRune(' ')
				} else {
					err = w.WriteRune(r)
				}
				if err != nil {
					return err
				}
			}

		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if hiddenElements[a] {
				if tt == html.StartTagToken {
					hidden++
				}
				continue
			}
			sep := noSeparator
			switch {
			case a == atom.Pre || a == atom.Textarea || a == atom.Listing:
				if tt == html.StartTagToken {
					pre++
				}
				sep = blockSeparator
			case a == atom.Table:
				tables = append(tables, tableFrame{})
				sep = blockSeparator
			case a == atom.Tr:
				if len(tables) == 0 {
					tables = append(tables, tableFrame{})
				}
				tables[len(tables)-1].cells = 0
				sep = blockSeparator
			case a == atom.Td || a == atom.Th:
				if len(tables) == 0 {
					tables = append(tables, tableFrame{})
				}
				t := &tables[len(tables)-1]
				if t.cells > 0 {
					sep = cellSeparator
				}
				t.cells++
			case a == atom.Br:
				sep = lineSeparator
			case blockElements[a] || a == atom.Title:
				sep = blockSeparator
			}
			if err := htmlSeparate(w, sep); err != nil {
				return err
			}

		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch {
			case hiddenElements[a]:
				hidden = max(hidden-1, 0)
				continue
			case a == atom.Pre || a == atom.Textarea || a == atom.Listing:
				pre = max(pre-1, 0)
			case a == atom.Table:
				if len(tables) > 0 {
					tables = tables[:len(tables)-1]
				}
			case a == atom.Tr:
				if len(tables) > 0 {
					tables[len(tables)-1].cells = 0
				}
			case a == atom.Td || a == atom.Th:
				continue // the next cell writes the tab
			}
			if blockElements[a] || a == atom.Title || a == atom.Tr || a == atom.Table || a == atom.Pre || a == atom.Textarea || a == atom.Listing {
				if err := w.LineBreak(); err != nil {
					return err
				}
			}
		}
	}
}

// separator is what an element puts before its text.
type separator int

const (
	noSeparator    separator = iota
	cellSeparator            // a tab
	lineSeparator            // a line break (<br>)
	blockSeparator           // the end of the line, if one has begun (the end of a block and the start of the next make one break)
)

func htmlSeparate(w *textWriter, sep separator) error {
	switch sep {
	case cellSeparator:
		return w.WriteRune('\t')
	case lineSeparator:
		return w.WriteRune('\n')
	case blockSeparator:
		return w.LineBreak()
	}
	return nil
}

// tableFrame counts the cells of the current row of an open table, so that
// cells are separated by tabs even when the page omits their end tags.
type tableFrame struct{ cells int }

// isHTMLSpace reports whether r is white space between words of a page
// (HTML collapses runs of it, line breaks included, into one space).
func isHTMLSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\u00a0':
		return true
	}
	return false
}

// hiddenElements hold no text a reader of the page sees.
var hiddenElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Iframe: true, atom.Noembed: true, atom.Noframes: true, atom.Object: true,
}

// blockElements start and end a line of text.
var blockElements = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Caption: true, atom.Center: true, atom.Dd: true, atom.Details: true,
	atom.Dialog: true, atom.Dir: true, atom.Div: true, atom.Dl: true, atom.Dt: true,
	atom.Fieldset: true, atom.Figcaption: true, atom.Figure: true, atom.Footer: true,
	atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Header: true, atom.Hgroup: true, atom.Hr: true,
	atom.Legend: true, atom.Li: true, atom.Main: true, atom.Menu: true, atom.Nav: true,
	atom.Ol: true, atom.Option: true, atom.P: true, atom.Section: true,
	atom.Summary: true, atom.Tbody: true, atom.Tfoot: true, atom.Thead: true,
	atom.Ul: true, atom.Body: true, atom.Head: true,
}
