package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The end-to-end cases of files built to hurt the reader. Each is read by
// a child process (package forked) while the reply instance goes on
// answering the questions it has in flight: the parsers refuse the bombs
// they know in milliseconds (docs/files.md), and the child's limits stop
// what gets past them.

// hostileFiles are small files whose reading, in the reply process, took
// it past the function's 128 MB or its stack (docs/files.md: 413, 150 and
// 182 MB), each of a class of issue 18.
func hostileFiles(t *testing.T) map[string][]byte {
	t.Helper()
	const deep = 1 << 20
	huge := strings.Repeat("a", 60<<20) // one XML token, held whole by the parser
	sheet := documenttest.XLSX(documenttest.Sheet{Name: "表", Rows: [][]string{{"a"}}})
	return map[string][]byte{
		// A content stream of arrays nested a million deep: the parser
		// recursed a million deep and overflowed its stack (in Go a
		// fatal error, which no recover catches).
		"嵌套.pdf": documenttest.PDFContent([]byte("BT /F1 12 Tf " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + " TJ ET")),
		// Paragraphs nested a hundred thousand deep: the XML decoder
		// keeps a frame per level.
		"嵌套.docx": documenttest.DOCXBody(strings.Repeat("<w:p>", 100_000) + strings.Repeat("</w:p>", 100_000)),
		// A sheet nested as deep, which excelize would unmarshal.
		"嵌套.xlsx": replaceZipEntry(t, sheet, "xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?>`+
			`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`+
			strings.Repeat("<row>", 100_000)+strings.Repeat("</row>", 100_000)+`</sheetData></worksheet>`),
		// 60 KB whose one row carries a 60 MB attribute.
		"膨胀.xlsx": replaceZipEntry(t, sheet, "xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?>`+
			`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`+
			`<row r="1" spans="`+huge+`"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row></sheetData></worksheet>`),
	}
}

// replaceZipEntry is the zip archive with the entry named name holding
// content instead.
func replaceZipEntry(t *testing.T, archive []byte, name, content string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == name {
			io.WriteString(w, content)
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, r)
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestAHostileFileIsAnsweredClearlyWhileOtherQuestionsAreAnswered(t *testing.T) {
	t.Parallel()
	st, bob, holdBob := fileInFlightStack(t, nil)
	alice := single(t, st, "alice")
	for name, data := range hostileFiles(t) {
		t.Run(name, func(t *testing.T) {
			got := whileBobWaits(t, bob, holdBob, name, func() string { return alice.sendFile(name, data) })
			if !strings.HasPrefix(got, "抱歉，文件《"+name+"》") {
				t.Errorf("the hostile file was answered %q; want a clear refusal", got)
			}
			t.Logf("%s (%d bytes) was answered %q", name, len(data), got)
			// The turn to read is free, and the instance the same.
			if got := alice.sendFile("笔记.txt", []byte("下一个文件。")); !strings.HasPrefix(got, "已读取文件《笔记.txt》") {
				t.Errorf("the next file was answered %q", got)
			}
		})
	}
	select {
	case <-st.Reply.Done():
		t.Fatal("the reply process ended")
	default:
	}
}

// A file that gets past the parsers' bounds is stopped by the child's: a
// document the default 48 MB read whole, with a child given 16 MB
// (FILE_READ_MEMORY_MB), is what a worse one is to the default.
func TestAFileBeyondTheChildsLimitsIsStoppedAloneWhileOtherQuestionsAreAnswered(t *testing.T) {
	t.Parallel()
	st, bob, holdBob := fileInFlightStack(t, map[string]string{"FILE_READ_MEMORY_MB": "16"})
	alice := single(t, st, "alice")
	// 60 KB that expand to one 60 MB run of text, which the XML decoder
	// reads as one token.
	docx := documenttest.DOCXBody("<w:p><w:r><w:t>" + strings.Repeat("a", 60<<20) + "</w:t></w:r></w:p>")
	got := whileBobWaits(t, bob, holdBob, "大文.docx", func() string { return alice.sendFile("大文.docx", docx) })
	if !strings.HasPrefix(got, "抱歉，文件《大文.docx》太复杂") {
		t.Errorf("a document past the child's memory was answered %q; want it called too complex", got)
	}
	if got := alice.sendFile("笔记.txt", []byte("下一个文件。")); !strings.HasPrefix(got, "已读取文件《笔记.txt》") {
		t.Errorf("the next file was answered %q", got)
	}
	if !strings.Contains(st.Reply.Output(), "reading a file was stopped at a limit") {
		t.Error("no log line says a file was stopped at a limit")
	}
	select {
	case <-st.Reply.Done():
		t.Fatal("the reply process ended")
	default:
	}
}

// fileInFlightStack is a stack whose model holds bob's questions, those
// that start with 慢问题, until holdBob lets one go.
func fileInFlightStack(t *testing.T, env map[string]string) (st *devstack.Stack, bob chat, holdBob chan chan struct{}) {
	t.Helper()
	holdBob = make(chan chan struct{})
	st = start(t, devstack.Config{
		ReplyEnv: env,
		Model: func(ctx context.Context, req openaitest.Request) openaitest.Response {
			if strings.HasPrefix(req.LastUserMessage(), "慢问题") {
				release := make(chan struct{})
				select {
				case holdBob <- release:
				case <-ctx.Done():
				}
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return openaitest.Response{Content: "答：" + req.LastUserMessage()}
		},
		DingTalkApp: true,
	})
	return st, single(t, st, "bob"), holdBob
}

// whileBobWaits sends bob's question, and while the model holds it in
// flight on the instance, does send; then it lets bob's question be
// answered, checks that it was, and returns what send returned.
func whileBobWaits(t *testing.T, bob chat, holdBob chan chan struct{}, name string, send func() string) string {
	t.Helper()
	question := "慢问题：" + name
	before := len(bob.posts())
	if resp := bob.send(question); resp.Status != 200 {
		t.Fatalf("DingTalk got %d", resp.Status)
	}
	var release chan struct{}
	select {
	case release = <-holdBob: // bob's question is in flight on the instance
	case <-time.After(time.Minute):
		t.Fatal("bob's question never reached the model")
	}
	got := send()
	close(release)
	if answer := bob.waitAnswer(before + 1); answer != "答："+question {
		t.Errorf("the question in flight was answered %q", answer)
	}
	return got
}

// TestAPictureMessageIsRefusedForWhatItIs: the number of pictures and what
// the context window takes of them are known from the message, their sizes
// from what the storage announces: each refusal says which, and comes
// before a picture is read.
func TestAPictureMessageIsRefusedForWhatItIs(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		Model:       openaitest.Echo("答："),
		ReplyEnv:    map[string]string{"VISION_MODEL": "vision-model", "MAX_PICTURE_MB": "10", "MAX_CONTEXT_TOKENS": "8000"},
		DingTalkApp: true,
	})
	alice := single(t, st, "alice")
	picture := func(size int) string {
		return st.DingTalk.AddFile(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, size)...), "image/png")
	}
	send := func(words string, codes ...string) string {
		items := []dingtalktest.RichTextItem{{Text: words}}
		for _, c := range codes {
			items = append(items, dingtalktest.RichTextItem{PictureDownloadCode: c})
		}
		return alice.deliver(st.DingTalk.RichTextCallback(alice.conv, alice.from, items...))
	}
	codes := func(n, size int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = picture(size)
		}
		return out
	}

	downloads := st.DingTalk.FileDownloads()
	if got := send("这些图里有什么", codes(9, 100)...); !strings.Contains(got, "一次最多能看 8 张图片，你发了 9 张") {
		t.Errorf("9 pictures were answered %q", got)
	}
	// 8 pictures of 1105 tokens each exceed a window of 8000.
	if got := send("这些图里有什么", codes(8, 100)...); !strings.Contains(got, "我一次最多能看 7 张，你发了 8 张") {
		t.Errorf("8 pictures were answered %q", got)
	}
	if n := st.DingTalk.FileDownloads() - downloads; n != 0 {
		t.Errorf("%d pictures downloaded for questions refused by their number", n)
	}
	if got := send("哪张好看", codes(3, 8<<20)...); !strings.Contains(got, "这 3 张图片加起来太大了（一次最多 20 MB）") {
		t.Errorf("3 pictures of 8 MB were answered %q", got)
	}
	if got := send("这是什么", picture(11<<20)); !strings.Contains(got, "图片太大了（上限 10 MB）") {
		t.Errorf("a picture of 11 MB was answered %q", got)
	}
	if n := len(st.Model.Requests()); n != 0 {
		t.Errorf("the model was asked %d times", n)
	}
	if got := send("这两张图有什么不同", codes(2, 1000)...); got != "答：这两张图有什么不同" {
		t.Errorf("2 small pictures were answered %q", got)
	}
	if reqs := st.Model.Requests(); len(reqs) != 1 || len(reqs[0].Images) != 2 {
		t.Errorf("the model was asked %d times; want once, with 2 pictures", len(reqs))
	}
}
