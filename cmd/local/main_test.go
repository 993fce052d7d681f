package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
)

// runLocal builds the functions and runs `make run`'s program with env as
// its environment, logging to logs, as a user typing typed; it returns the
// screen.
func runLocal(t *testing.T, env map[string]string, logs, typed string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the real programs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := devstack.BuildFunctions(ctx, bin); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"local", "-bin", bin, "-data", t.TempDir(), "-logs", logs}
	if err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(typed), &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	return out.String()
}

// TestATerminalConversation is what `make run` shows a newcomer: the real
// programs started, the port printed, an answer from the offline model that
// remembers the previous turn, a group message, and \clear.
func TestATerminalConversation(t *testing.T) {
	logs := t.TempDir()
	screen := runLocal(t, nil, logs, "你好\n我叫小明\n/group\n/user 李四\n群里的问题\n\\clear\n/quit\n")
	for _, want := range []string{
		"conversation 函数：http://127.0.0.1:",
		"你的问题是：「你好」",
		"这是我们对话的第一轮",
		"你的问题是：「我叫小明」",
		"我看到了之前的 1 轮对话",
		"[群聊「测试群」 · 李四] >",
		"你的问题是：「群里的问题」",
		"已清除你与我的对话记录",
		// The group's answer @-mentions its asker by name, as DingTalk shows it.
		"@李四",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "@staff-") {
		t.Errorf("the terminal shows a staff id where DingTalk shows the member's name:\n%s", screen)
	}
	if log, err := os.ReadFile(filepath.Join(logs, "functions.log")); err != nil || !bytes.Contains(log, []byte("FC Invoke Start RequestId:")) {
		t.Errorf("functions' log missing or empty (%v)", err)
	}
}

// With CARD_TEMPLATE_ID the terminal shows the answer's AI card and its
// final text. (How the screen shows it growing is screen_test's: here the
// updates' timing is the machine's.)
func TestATerminalShowsACardGrowing(t *testing.T) {
	env := map[string]string{"CARD_TEMPLATE_ID": "fcrobot-local.schema", "CARD_UPDATE_INTERVAL": "100ms"}
	screen := runLocal(t, env, t.TempDir(), "你好\n/quit\n")
	for _, want := range []string{"回答方式：        AI 卡片（模板 fcrobot-local.schema）", "AI 卡片）：　[停止]（/press stop）\n", "你的问题是：「你好」", "这是我们对话的第一轮", "卡片已完成"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, "机器人（"); n != 1 {
		t.Errorf("%d answers on screen; want one, the card:\n%s", n, screen)
	}
}

// `make run` shows a tool at work: the offline model looks the question
// up with the small MCP server the simulator starts, and answers from it.
func TestATerminalUsesATool(t *testing.T) {
	screen := runLocal(t, nil, t.TempDir(), "帮我查一下 部署\n\\tools\n/quit\n")
	for _, want := range []string{"工具：            本地示例 MCP 服务器 docs", "在文档中找到 2 条", "🔧 docs.search_docs"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, screen)
		}
	}
}

// With CARD_TEMPLATE_ID the cards have buttons, shown under them, and
// /press presses them through a signed callback to the real conversation
// function: 👍 pressed twice counts once, and the card shows the count;
// a tool that waits for a yes asks on the card, and 允许 makes the call.
// Each /press is typed while the robot answers, and pressed once the card
// shows its button.
func TestATerminalPressesACardsButtons(t *testing.T) {
	env := map[string]string{"CARD_TEMPLATE_ID": "fcrobot-local.schema", "CARD_UPDATE_INTERVAL": "100ms"}
	screen := runLocal(t, env, t.TempDir(), "你好\n/press like\n/press like\n用 docs__create_ticket 建个工单\n/press approve\n/press dislike\n/quit\n")
	for _, want := range []string{
		"/press 按钮",
		"create_ticket 要在卡片上点「允许」",
		"AI 卡片）：　[停止]（/press stop）\n",
		"张三 按下了「👍」",
		"[👍 1] [👎 0]（/press like、/press dislike）",
		"┆ 🔧 大模型想使用工具：\n  ┆ docs.create_ticket\n  ┆ ```",
		"[允许] [拒绝] [停止]（/press approve、/press deny、/press stop）",
		"张三 按下了「允许」",
		"已创建工单 #1001",
		"[👍 0] [👎 1]",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "[👍 2]") || strings.Contains(screen, "✗") {
		t.Errorf("a vote counted twice, or something failed:\n%s", screen)
	}
}

// Without a card there is no button to press, and the simulator says so.
func TestATerminalHasNoButtonsWithoutCards(t *testing.T) {
	screen := runLocal(t, nil, t.TempDir(), "/press like\n/quit\n")
	if !strings.Contains(screen, "只有 AI 卡片才有按钮") {
		t.Errorf("the terminal does not say why nothing was pressed:\n%s", screen)
	}
}
