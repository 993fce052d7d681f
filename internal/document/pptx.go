package document

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

// extractPPTX reads a PowerPoint presentation into w, slide by slide in the
// order they are shown, each after a line "--- 第 N 页 ---" (N counts from
// 1): the text of its shapes and tables, a line per paragraph. Speaker notes
// are left out.
func extractPPTX(data []byte, w *textWriter) error {
	pkg, err := openOOXML(data, PPTX)
	if err != nil {
		return err
	}
	slides, err := pkg.slides()
	if err != nil {
		return err
	}
	if len(slides) == 0 {
		return fmt.Errorf("%w: the pptx has no slides", ErrNoText)
	}
	withText := false
	for i, slide := range slides {
		if err := w.WriteString(fmt.Sprintf("\n\n--- 第 %d 页 ---\n", i+1)); err != nil {
			return err
		}
		before := w.visible
		if err := pkg.writeMarkupText(slide, w); err != nil {
			return err
		}
		withText = withText || w.visible > before
	}
	if !withText {
		return fmt.Errorf("%w: the pptx's slides hold no text", ErrNoText)
	}
	return nil
}

// slides returns the slide parts of the presentation in the order it shows
// them: the order of its slide list (p:sldIdLst in ppt/presentation.xml),
// which is not always that of the part names (a slide moved in an editor
// keeps its name). A package without a usable list is read in the numeric
// order of its ppt/slides/slideN.xml parts, slide10 after slide9.
func (p *ooxmlPackage) slides() ([]string, error) {
	main, err := p.mainPart("ppt/presentation.xml")
	if err != nil {
		return nil, err
	}
	var ids []string
	if p.has(main) {
		inList := false
		err := p.decodeXML(main, func(tok xml.Token) error {
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "sldIdLst":
					inList = true
				case "sldId":
					if !inList {
						return nil
					}
					for _, a := range t.Attr {
						if a.Name.Local == "id" && a.Name.Space != "" { // r:id, not id
							ids = append(ids, a.Value)
						}
					}
				}
			case xml.EndElement:
				if t.Name.Local == "sldIdLst" {
					inList = false
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(ids) > 0 {
		rels, err := p.relationships(main)
		if err != nil {
			return nil, err
		}
		targets := make(map[string]string, len(rels))
		for _, r := range rels {
			targets[r.id] = r.target
		}
		var slides []string
		for _, id := range ids {
			if t, ok := targets[id]; ok && p.has(t) {
				slides = append(slides, t)
			}
		}
		if len(slides) > 0 {
			return slides, nil
		}
	}
	return p.slidesByName(), nil
}

var slideName = regexp.MustCompile(`^ppt/slides/slide([0-9]{1,9})\.xml$`)

func (p *ooxmlPackage) slidesByName() []string {
	type numbered struct {
		n    int
		name string
	}
	var found []numbered
	for key := range p.parts {
		if m := slideName.FindStringSubmatch(key); m != nil {
			n, _ := strconv.Atoi(m[1])
			found = append(found, numbered{n, key})
		}
	}
	slices.SortFunc(found, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.name
	}
	return names
}
