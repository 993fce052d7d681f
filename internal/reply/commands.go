package reply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// commandPrefix starts every command: a message whose first word starts
// with it is for the robot, not for the model.
const commandPrefix = `\`

// command is one thing a user can tell the robot to do.
type command struct {
	// name is what the user types, with its prefix.
	name string
	// help is its line in \help.
	help string
	// run answers the command for m. Its error is retryable or final, as
	// for Service.Handle.
	run func(ctx context.Context, log *slog.Logger, m chat.Message) (string, error)
}

// commands lists the commands in the order \help shows them. A command is
// one entry here and the method that runs it.
func (s *Service) commands() []command {
	return []command{
		{name: `\clear`, help: "清除你与我的对话记录", run: s.clear},
		{name: `\help`, help: "显示本帮助", run: s.help},
	}
}

// command finds the command text is. Text whose first word does not start
// with the prefix is a question (ok false); an unknown word gets a command
// that says so and lists the known ones. A group message keeps the space
// that followed the @-mention, so the text is trimmed first.
func (s *Service) command(text string) (cmd command, ok bool) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, commandPrefix) {
		return command{}, false
	}
	word := strings.ToLower(strings.Fields(t)[0])
	for _, c := range s.commands() {
		if c.name == word {
			return c, true
		}
	}
	return command{name: word, run: func(context.Context, *slog.Logger, chat.Message) (string, error) {
		return fmt.Sprintf("未知命令 %s。\n%s", strings.Fields(t)[0], s.helpText()), nil
	}}, true
}

func (s *Service) clear(ctx context.Context, log *slog.Logger, m chat.Message) (string, error) {
	if err := s.cfg.History.Clear(ctx, m.HistoryOwner(), m.CreatedAt); err != nil {
		return "", retry.Mark(fmt.Errorf("clear history: %w", err))
	}
	log.Log(ctx, logging.LevelNotice, "history cleared")
	return "已清除你与我的对话记录，我们重新开始吧。", nil
}

func (s *Service) help(context.Context, *slog.Logger, chat.Message) (string, error) {
	return s.helpText(), nil
}

// helpText lists the commands and says what becomes of everything else.
func (s *Service) helpText() string {
	var b strings.Builder
	b.WriteString("可用命令：\n")
	for _, c := range s.commands() {
		fmt.Fprintf(&b, "%-8s%s\n", c.name, c.help)
	}
	b.WriteString("其他消息都会作为问题交给大模型回答。")
	return b.String()
}
