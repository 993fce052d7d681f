package reply

import (
	"fmt"
	"strings"
	"testing"
)

// A deployment without the stores, the reader or the downloads behind a
// feature offers none of it: its command is an unknown one, and a file sent
// is told it cannot be read, without the model being asked.
func TestAFeatureThatIsOffIsNotOffered(t *testing.T) {
	f := newFixture(t, nil) // no Settings, Stops, Questions, Documents, Reader, Files, Vision, Reactions
	help := "可用命令：\n" +
		`\clear   清除你与我的对话记录` + "\n" +
		`\whoami  显示你的 staffId 和本会话的 conversationId（供管理员设置权限）` + "\n" +
		`\help    显示本帮助` + "\n" +
		"命令也可以用 / 开头。其他消息都会作为问题交给大模型回答。"
	for i, typed := range []string{`\stop`, `\usage`, `\system 你是一位诗人`, `\model`} {
		if err := f.handle(t, fmt.Sprint("r", i), event(fmt.Sprint("m", i), typed, clock)); err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(typed, " ")
		if got, want := f.out.last(conversationID), "未知命令 "+name+"。\n"+help; got != want {
			t.Errorf("%s answered %q, want %q", typed, got, want)
		}
	}
	if err := f.handle(t, "r-file", fileEvent("m-file", "code-1", "笔记.txt", clock)); err != nil {
		t.Fatal(err)
	}
	if got, want := f.out.last(conversationID), unsupportedText("file"); got != want {
		t.Errorf("a file answered %q, want %q", got, want)
	}
	if n := f.askedCount(); n != 0 {
		t.Errorf("the model was asked %d times", n)
	}
}
