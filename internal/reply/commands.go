package reply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// commandPrefix starts every command as \help shows it.
const commandPrefix = `\`

// commandPrefixes start a command: the backslash, and what users type for
// it elsewhere: the full-width backslash of a Chinese input method, the
// slash most chat robots use, and 、, which the backslash key types under a
// Chinese input method on a phone. After \ or ＼ an unknown word is an
// unknown command; after / or 、 it is a question, since a question may
// well start with a path or a list mark ("/etc/hosts 是什么").
var commandPrefixes = []struct {
	prefix string
	strict bool
}{{`\`, true}, {`＼`, true}, {`/`, false}, {`、`, false}}

// command is one thing a user can tell the robot to do.
type command struct {
	// name is what the user types after the prefix.
	name string
	// help is its line in \help.
	help string
	// open commands answer anyone, even a sender who may not ask.
	open bool
	// run answers the command for m; args is what follows its name. Its
	// error is retryable or final, as for Service.Handle.
	run func(ctx context.Context, log *slog.Logger, m chat.Message, args string) (string, error)
}

// commands lists the commands in the order \help shows them. A command is
// one entry here and the method that runs it.
func (s *Control) commands() []command {
	clearHelp := "清除你与我的对话记录"
	if s.sharedGroupContext {
		clearHelp += "（群里清除全群共用的记录，仅管理员）"
	}
	cmds := []command{{name: "clear", help: clearHelp, run: s.clear}}
	if offered(s.settings) {
		cmds = append(cmds, command{name: "system", help: "查看（不带参数）、设置或恢复（reset）本会话的系统提示词；群里仅管理员可改", run: s.system})
		if len(s.models) > 1 {
			cmds = append(cmds, command{name: "model", help: "列出可用的模型（不带参数）或切换本会话的模型；群里仅管理员可切换", run: s.switchModel})
		}
	}
	if offered(s.stops) {
		cmds = append(cmds, command{name: "stop", help: "停下我正在写给你的回答（已写出的部分保留，这一问不计入对话记录）", run: s.stop})
	}
	if offered(s.tools) {
		cmds = append(cmds, command{name: "tools", help: "列出我回答时能用的工具（网页搜索、MCP 工具）", run: s.listTools})
		if offered(s.decisions) {
			cmds = append(cmds,
				command{name: "yes", help: "允许大模型正在等待决定的那次工具调用（带上询问时给出的编号）", run: s.decide(true)},
				command{name: "no", help: "拒绝大模型正在等待决定的那次工具调用（带上询问时给出的编号）", run: s.decide(false)})
		}
	}
	if offered(s.votes) {
		cmds = append(cmds, command{name: "feedback", help: "查看最近 7 天回答收到的 👍/👎（仅管理员）", run: s.feedback})
	}
	if offered(s.questions) {
		cmds = append(cmds, command{name: "usage", help: "显示你今天的提问次数和 token 用量", run: s.usage})
	}
	return append(cmds,
		command{name: "whoami", help: "显示你的 staffId 和本会话的 conversationId（供管理员设置权限）", open: true, run: s.whoami},
		command{name: "help", help: "显示本帮助", run: s.help},
	)
}

// command finds the command text is. Text that does not start with a
// prefix is a question (ok false); so is an unknown word after a prefix
// that is not strict; an unknown word after a strict one gets a command
// that says so and lists the known ones. A group message keeps the space
// that followed the @-mention, so the text is trimmed first.
func (s *Control) command(text string) (cmd command, args string, ok bool) {
	t := strings.TrimSpace(text)
	for _, p := range commandPrefixes {
		rest, found := strings.CutPrefix(t, p.prefix)
		if !found || rest == "" {
			continue
		}
		word, args := rest, ""
		if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
			word, args = rest[:i], strings.TrimSpace(rest[i:])
		}
		for _, c := range s.commands() {
			if c.name == strings.ToLower(word) {
				return c, args, true
			}
		}
		if !p.strict || word == "" {
			return command{}, "", false
		}
		typed := p.prefix + word
		return command{name: word, run: func(context.Context, *slog.Logger, chat.Message, string) (string, error) {
			return fmt.Sprintf("未知命令 %s。\n%s", typed, s.helpText()), nil
		}}, "", true
	}
	return command{}, "", false
}

func (s *Control) clear(ctx context.Context, log *slog.Logger, m chat.Message, _ string) (string, error) {
	shared := m.IsGroup() && s.sharedGroupContext
	if shared && !s.access.admin(m) {
		return "这个群共用一份对话记录，只有管理员可以清除它。", nil
	}
	if err := s.history.Clear(ctx, s.prompter.historyOwner(m), m.CreatedAt); err != nil {
		return "", retry.Mark(fmt.Errorf("clear history: %w", err))
	}
	// A file waiting for the next question goes with the history.
	if err := s.documents.Clear(ctx, m.HistoryOwner()); err != nil {
		return "", retry.Mark(fmt.Errorf("clear the files kept: %w", err))
	}
	log.Log(ctx, logging.LevelNotice, "history cleared", "shared", shared)
	if shared {
		return "已清除本群与我的对话记录，我们重新开始吧。", nil
	}
	return "已清除你与我的对话记录，我们重新开始吧。", nil
}

func (s *Control) whoami(_ context.Context, _ *slog.Logger, m chat.Message, _ string) (string, error) {
	staff := m.SenderStaffID
	if staff == "" {
		staff = "（没有：外部联系人没有 staffId）"
	}
	return fmt.Sprintf("你的 staffId：%s\n本会话的 conversationId：%s", staff, m.ConversationID), nil
}

func (s *Control) help(context.Context, *slog.Logger, chat.Message, string) (string, error) {
	return s.helpText(), nil
}

// helpText lists the commands and says what becomes of everything else.
func (s *Control) helpText() string {
	var b strings.Builder
	b.WriteString("可用命令：\n")
	cmds := s.commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(commandPrefix+c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "%-*s  %s\n", width, commandPrefix+c.name, c.help)
	}
	b.WriteString("命令也可以用 / 开头。其他消息都会作为问题交给大模型回答。")
	return b.String()
}

// listTools answers \tools: what the model may use now.
func (s *Control) listTools(ctx context.Context, _ *slog.Logger, _ chat.Message, _ string) (string, error) {
	lines := s.tools.List(ctx)
	if len(lines) == 0 {
		return "现在没有可用的工具：我只能根据大模型自己的知识回答。", nil
	}
	return "我回答时可以使用：\n" + strings.Join(lines, "\n"), nil
}

// decide answers \yes and \no: "\yes 3f9a2c" decides on the calls of the
// question the code names (the question shows it), which its answer,
// waiting, counts only from whoever may decide (confirm.go). It is dated
// by when the message arrived, as a press is: the answer looks for
// decisions made after it asked, by the functions' clock; DingTalk's
// createAt is another clock's, which may lag (or a forged callback's
// choice), and a \yes dated before the question by it would never count.
func (s *Control) decide(approve bool) func(context.Context, *slog.Logger, chat.Message, string) (string, error) {
	word := map[bool]string{true: "yes", false: "no"}[approve]
	return func(ctx context.Context, log *slog.Logger, m chat.Message, args string) (string, error) {
		code := strings.ToLower(strings.TrimSpace(args))
		if !isQuestionCode(code) {
			return fmt.Sprintf("请带上要决定的那次工具调用的编号，例如 \\%s 3f9a2c（编号在我询问时给出）。", word), nil
		}
		if err := s.decisions.Decide(ctx, decisionKey(m.ConversationID, code), decider(m), s.arrival(ctx, m), approve); err != nil {
			return "", retry.Mark(fmt.Errorf("keep a decision on a tool call: %w", err))
		}
		log.Log(ctx, logging.LevelNotice, "decision on a tool call sent", "code", code, "allow", approve)
		if m.IsGroup() && len(s.access.Admins) > 0 && !s.access.admin(m) {
			return "收到。不过在这个群里，只有管理员能决定是否使用工具。", nil
		}
		verdict := map[bool]string{true: "允许", false: "拒绝"}[approve]
		return fmt.Sprintf("好的，%s编号 %s 的工具调用（提问者本人或群管理员的决定才有效）。", verdict, code), nil
	}
}

// isQuestionCode reports whether s is a code questionCode makes.
func isQuestionCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
