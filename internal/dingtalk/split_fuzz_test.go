package dingtalk

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fence rules SplitMessage documents, written independently of its
// parser: CommonMark's fenced code blocks, with opening lines longer than
// maxOpening read as text.
var (
	openingLine = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")
	closingLine = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})[ \t\r]*$")
)

// openBlock is the block open at the end of s: its opening line, fence
// character and run length; "" when none is open.
type openBlock struct {
	line string
	char byte
	n    int
}

func blockOpenAtEnd(s string, maxOpening int) openBlock {
	var open openBlock
	for _, line := range strings.Split(s, "\n") {
		if open.line == "" {
			m := openingLine.FindStringSubmatch(line)
			if m == nil || len(line) > maxOpening || (m[1][0] == '`' && strings.Contains(m[2], "`")) {
				continue
			}
			open = openBlock{line: line, char: m[1][0], n: len(m[1])}
			continue
		}
		if m := closingLine.FindStringSubmatch(line); m != nil && m[1][0] == open.char && len(m[1]) >= open.n {
			open = openBlock{}
		}
	}
	return open
}

// checkSplit asserts everything SplitMessage (or SplitMessageChars, with
// chars) promises about its pieces.
func checkSplit(t *testing.T, text string, limit int, chars bool) {
	t.Helper()
	pieces := split(text, limit, chars)
	measure := func(s string) int { return len(s) }
	if chars {
		measure = runeStarts
	}
	switch {
	case text == "":
		if pieces != nil {
			t.Fatalf("SplitMessage(\"\") = %q, want nil", pieces)
		}
		return
	case measure(text) <= limit:
		if len(pieces) != 1 || pieces[0] != text {
			t.Fatalf("text within the limit split into %q", pieces)
		}
		return
	}

	spans := newSplitter(text, limit, chars).spans()
	if len(spans) != len(pieces) {
		t.Fatalf("%d spans for %d pieces", len(spans), len(pieces))
	}
	maxOpening := limit / 4
	textOpen := blockOpenAtEnd(text, maxOpening)
	var joined strings.Builder
	for i, s := range spans {
		last := i == len(spans)-1
		piece := pieces[i]
		if measure(piece) > limit {
			t.Fatalf("piece %d is %d long, over the limit %d (chars %v): %q", i, measure(piece), limit, chars, piece)
		}
		if utf8.ValidString(text) && !utf8.ValidString(piece) {
			t.Fatalf("piece %d is not valid UTF-8: %q", i, piece)
		}
		if s.end <= s.start || s.start != joined.Len() {
			t.Fatalf("span %d is [%d, %d) after %d bytes", i, s.start, s.end, joined.Len())
		}
		if piece != s.reopen+text[s.start:s.end]+s.close {
			t.Fatalf("piece %d is %q, not its text %q with the added fences %q and %q", i, piece, text[s.start:s.end], s.reopen, s.close)
		}

		// The added opening line: the block open where the piece starts,
		// read in the whole text (up to the start of the cut line).
		lineStart := strings.LastIndexByte(text[:s.start], '\n') + 1
		wantReopen := ""
		if open := blockOpenAtEnd(text[:lineStart], maxOpening); open.line != "" {
			wantReopen = open.line + "\n"
		}
		if s.reopen != wantReopen {
			t.Fatalf("piece %d starts with the added %q, want %q", i, s.reopen, wantReopen)
		}
		// The added closing run: the block open at the end of the piece,
		// read on its own.
		body := s.reopen + text[s.start:s.end]
		wantClose := ""
		if open := blockOpenAtEnd(body, maxOpening); open.line != "" && (!last || textOpen.line == "") {
			wantClose = strings.Repeat(string(open.char), open.n)
			if !strings.HasSuffix(body, "\n") {
				wantClose = "\n" + wantClose
			}
		}
		if s.close != wantClose {
			t.Fatalf("piece %d ends with the added %q, want %q", i, s.close, wantClose)
		}

		if blockOpenAtEnd(piece, maxOpening).line != "" && (!last || textOpen.line == "") {
			t.Fatalf("piece %d leaves a code block open: %q", i, piece)
		}
		joined.WriteString(text[s.start:s.end])
	}
	if joined.String() != text {
		t.Fatalf("the pieces without their added fences are %q, want %q", joined.String(), text)
	}
	if again := split(text, limit, chars); !reflect.DeepEqual(again, pieces) {
		t.Fatalf("a second split differs: %q, then %q", pieces, again)
	}
}

func FuzzSplitMessage(f *testing.F) {
	seeds := []struct {
		text  string
		limit int
	}{
		{"", 16},
		{"short", 16},
		{"first paragraph\n\nsecond paragraph\nwith two lines and some words", 20},
		{"今天天气很好，我们去公园散步吧。然后回家吃饭，晚上看书。", 16},
		{"```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```\n\nThat is all.", 24},
		{"~~~~ text\n```\nnot a close\n```\n~~~~\nafter", 32},
		{"```\n" + strings.Repeat("x", 100) + "\n```", 20},
		{"intro\n\n```sh\necho one\necho two\n", 20},
		{"a" + strings.Repeat("`", 60) + "\nb", 16},
		{"```a`b " + strings.Repeat("c", 40), 16},
		{"   ```\n    ```\n```  \n" + strings.Repeat("y ", 30), 16},
		{"```" + strings.Repeat("i", 40) + "\ncode\ncode\ncode\n```", 40},
		{"\xff\xfe" + strings.Repeat("é", 30), 16},
		{"line\r\n```py\r\nprint(1)\r\nprint(2)\r\n```\r\n", 16},
		{strings.Repeat("🙂", 20), 17},
		{"`````\n```\n`````\n" + strings.Repeat("z\n", 20), 24},
	}
	for _, s := range seeds {
		f.Add(s.text, s.limit)
	}
	f.Fuzz(func(t *testing.T, text string, limit int) {
		// Any limit from the minimum to a little over the text's length.
		limit = MinSplitLimit + int(uint(limit)%uint(len(text)+64))
		checkSplit(t, text, limit, false)
		checkSplit(t, text, limit, true)
	})
}

func TestSplitMessageLimits(t *testing.T) {
	text := "```go\n" + strings.Repeat("fmt.Println(\"你好，世界\")\n", 40) + "```\n\n" +
		strings.Repeat("段落里的文字，没有空格。", 30) + "\n\nword word word\n"
	for limit := MinSplitLimit; limit <= len(text)+1; limit++ {
		checkSplit(t, text, limit, false)
		checkSplit(t, text, limit, true)
	}
}
