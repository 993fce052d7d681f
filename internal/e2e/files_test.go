package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The end-to-end cases of files and quoted messages: the fake DingTalk
// serves the files, the real reply function reads them.

// fileStack is a robot with an app, so that it can download what users
// send; its model echoes the question it is asked, files and quotes
// included.
func fileStack(t *testing.T, env map[string]string) *devstack.Stack {
	t.Helper()
	return start(t, devstack.Config{Model: openaitest.Echo("答："), ReplyEnv: env, DingTalkApp: true})
}

// deliver hands cb to the robot and returns the answer it posts.
func (c chat) deliver(cb dingtalktest.Callback) string {
	c.t.Helper()
	before := len(c.posts())
	if resp, err := c.st.Deliver(context.Background(), cb.Body, time.Now()); err != nil || resp.Status != 200 {
		c.t.Fatalf("callback: %v %+v", err, resp)
	}
	return c.waitAnswer(before + 1)
}

// sendFile sends a file message and returns the robot's answer.
func (c chat) sendFile(name string, data []byte) string {
	c.t.Helper()
	code := c.st.DingTalk.AddFile(data, "application/octet-stream")
	return c.deliver(c.st.DingTalk.FileCallback(c.conv, c.from, code, name))
}

// asked is the one model request whose question ends with q, files and
// quotes before it.
func asked(t *testing.T, st *devstack.Stack, q string) string {
	t.Helper()
	var found []string
	for _, r := range st.Model.Requests() {
		if m := r.LastUserMessage(); strings.HasSuffix(m, q) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d model requests end with %q; want 1", len(found), q)
	}
	return found[0]
}

func TestFilesOfEachKindAreReadAndAskedAbout(t *testing.T) {
	t.Parallel()
	st := fileStack(t, nil)
	for _, tc := range []struct {
		name string
		data []byte
		want []string // in the model's request, in order
	}{
		{"笔记.txt", []byte("周三下午三点开项目会。\n地点：三楼会议室。"), []string{"周三下午三点开项目会。\n地点：三楼会议室。"}},
		{"销售.csv", documenttest.GBK("地区,销售额\n华东,120\n华南,95\n"), []string{"地区,销售额\n华东,120\n华南,95"}},
		{"年报.pdf", documenttest.PDF("Annual report 2026", "收入增长百分之十二"), []string{"Annual report 2026", "收入增长百分之十二"}},
		{"方案.docx", documenttest.DOCX("第一章 背景", "第二章 目标：降低成本"), []string{"第一章 背景\n第二章 目标：降低成本"}},
		{"预算.xlsx", documenttest.XLSX(documenttest.Sheet{Name: "二季度", Rows: [][]string{{"项目", "金额"}, {"差旅", "3000"}}}), []string{"## 二季度", "项目\t金额\n差旅\t3000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := single(t, st, "u-"+tc.name)
			if got := user.sendFile(tc.name, tc.data); !strings.HasPrefix(got, "已读取文件《"+tc.name+"》（") {
				t.Fatalf("the file was answered %q", got)
			}
			question := "这份文件讲了什么？" + tc.name
			user.ask(question)
			req := asked(t, st, question)
			at := 0
			for _, w := range append([]string{`<file name="` + tc.name + `">`}, tc.want...) {
				i := strings.Index(req[at:], w)
				if i < 0 {
					t.Fatalf("the model was asked %q; want %q in it, in order, before the question", req, w)
				}
				at += i + len(w)
			}
			// The file goes with that question alone.
			user.ask("下一个问题" + tc.name)
			if req := asked(t, st, "下一个问题"+tc.name); strings.Contains(req, "<file") {
				t.Errorf("the next question took the file too: %q", req)
			}
		})
	}
}

func TestFilesThatCannotBeReadAreAnsweredClearlyWithoutTheModel(t *testing.T) {
	t.Parallel()
	st := fileStack(t, map[string]string{"MAX_FILE_MB": "1"})
	alice := single(t, st, "alice")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"大文件.txt", bytes.Repeat([]byte("很大"), 1<<19), "太大了（上限 1 MB）"},
		{"程序.exe", []byte("MZ\x90\x00"), "我读不了《程序.exe》这类文件"},
		{"坏的.pdf", []byte("%PDF-1.7 这不是 PDF"), "它可能已损坏"},
		{"炸弹.docx", documenttest.ZipBomb("word/document.xml", 200<<20), "解压后太大"},
	} {
		if got := alice.sendFile(tc.name, tc.data); !strings.Contains(got, tc.want) {
			t.Errorf("%s was answered %q; want it to say %q", tc.name, got, tc.want)
		}
	}
	if n := len(st.Model.Requests()); n != 0 {
		t.Errorf("the model was asked %d times for files it cannot read", n)
	}
	if n := st.DingTalk.FileDownloads(); n != 3 {
		t.Errorf("%d downloads; want 3: a kind the robot does not read is not downloaded", n)
	}
	alice.ask("文件里说了什么")
	if req := asked(t, st, "文件里说了什么"); strings.Contains(req, "<file") {
		t.Errorf("a file that could not be read reached the model: %q", req)
	}
}

func TestQuotesOfTextAPictureAFileAndTheRobotsCard(t *testing.T) {
	t.Parallel()
	picture := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 1024)...)
	st := start(t, devstack.Config{
		Model: func(_ context.Context, req openaitest.Request) openaitest.Response {
			if len(req.Images) > 0 {
				return openaitest.Response{Content: "看到图了"}
			}
			return openaitest.Response{Content: "答：" + req.LastUserMessage()}
		},
		ReplyEnv:    map[string]string{"VISION_MODEL": "vision-model"},
		DingTalkApp: true,
	})
	carol, dave := group(t, st, "g1", "carol"), group(t, st, "g1", "dave")
	now := time.Now()

	carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "这是什么意思？", dingtalktest.QuotedText(dave.from, "明天下午三点开会", now)))
	if req := asked(t, st, "这是什么意思？"); req != "<quote from=\"user\">\n明天下午三点开会\n</quote>\n\n这是什么意思？" {
		t.Errorf("a quoted text reached the model as %q", req)
	}

	code := st.DingTalk.AddFile(picture, "image/png")
	if got := carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "图里是什么", dingtalktest.QuotedPicture(dave.from, code, now))); !strings.HasSuffix(got, "看到图了") {
		t.Errorf("a quoted picture was answered %q; want the vision model's answer", got)
	}

	// A file reaches a group's robot only as a quote.
	code = st.DingTalk.AddFile(documenttest.DOCX("第一条：每周五提交周报"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
	carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "周报什么时候交？", dingtalktest.QuotedFile(dave.from, code, "制度.docx", now)))
	if req := asked(t, st, "周报什么时候交？"); !strings.HasPrefix(req, "<file name=\"制度.docx\">\n第一条：每周五提交周报\n</file>") {
		t.Errorf("a quoted file reached the model as %q", req)
	}

	// The robot's own answer, quoted as a card without content, is read
	// from the robot's record of the conversation.
	dave.ask("Go 是什么")
	dave.deliver(st.DingTalk.ReplyCallback(dave.conv, dave.from, "再详细点", dingtalktest.QuotedCard(time.Now())))
	if req := asked(t, st, "再详细点"); !strings.HasPrefix(req, "<quote from=\"assistant\">\n答：Go 是什么\n</quote>") {
		t.Errorf("a quoted card reached the model as %q; want the robot's own answer", req)
	}
	if got := dave.deliver(st.DingTalk.ReplyCallback(dave.conv, dave.from, "这是什么", dingtalktest.QuotedCard(now.Add(-time.Hour)))); !strings.Contains(got, "看不到你引用的那条回答") {
		t.Errorf("a card the robot has no record of was answered %q", got)
	}
}

func TestTheThinkingBadgeIsOnWhileTheModelAnswers(t *testing.T) {
	t.Parallel()
	st := fileStack(t, map[string]string{"THINKING_REACTION": "true"})
	alice := single(t, st, "alice")
	cb := st.DingTalk.TextCallback(alice.conv, alice.from, "你好")
	alice.deliver(cb)
	waitFC(t, st)
	if got := st.DingTalk.Reactions(); len(got) != 1 || got[0].MsgID != cb.MsgID || got[0].Text != "🤔思考中" || !got[0].Recalled {
		t.Errorf("badges %+v; want one on the question, taken off once answered", got)
	}
	// A badge DingTalk refuses costs the answer nothing.
	st.DingTalk.FailReactionsNext(1)
	if got := alice.ask("再问一次"); got != "答：再问一次" {
		t.Errorf("with the badge refused the answer was %q", got)
	}
}
