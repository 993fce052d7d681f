package reply

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// maxSystemPrompt bounds a system prompt set by \system, in characters: it
// goes with every question, and takes its share of the context window.
const maxSystemPrompt = 4000

// loadSettings starts reading m's conversation's settings, or returns nil
// (the defaults) when the deployment keeps none.
func (s *Prompter) loadSettings(ctx context.Context, m chat.Message) *pending[chat.Settings] {
	if !offered(s.settings) {
		return nil
	}
	return begin(ctx, func(ctx context.Context) (chat.Settings, error) {
		return s.settings.Load(ctx, s.settingsKey(m))
	})
}

// settingsKey names the settings of m's conversation: keyed by the
// conversation's type as well as its id, so that a forged one-to-one
// callback carrying a group's conversationId neither reads nor changes
// the group's settings. The witness is the asker's history, which tells a
// store whether settings kept under the id alone, before the type was part
// of the key, were this type's (bucket.Settings).
func (s *Prompter) settingsKey(m chat.Message) chat.SettingsKey {
	return chat.SettingsKey{Owner: m.SettingsOwner(), Conversation: m.ConversationID, Witness: s.historyOwner(m)}
}

// systemPrompt is the system prompt in force under set.
func (s *Prompter) systemPrompt(set chat.Settings) string {
	if set.HasSystem {
		return set.System
	}
	return s.systemPromptDefault
}

// model is the model in force under set: the conversation's, while it is
// still one of MODELS.
func (s *Prompter) model(set chat.Settings) string {
	if set.Model != "" && slices.Contains(s.models, set.Model) {
		return set.Model
	}
	return s.defaultModel
}

// mayChange reports whether m's sender may change the settings of m's
// conversation: anyone in a one-to-one chat, administrators in a group.
func (s *Control) mayChange(m chat.Message) bool {
	return !m.IsGroup() || s.access.admin(m)
}

func (s *Control) system(ctx context.Context, log *slog.Logger, m chat.Message, args string) (string, error) {
	if args == "" {
		set, err := s.settings.Load(ctx, s.prompter.settingsKey(m))
		if err != nil {
			return "", retry.Mark(fmt.Errorf("read the settings: %w", err))
		}
		if p := s.prompter.systemPrompt(set); p != "" {
			return "当前的系统提示词：\n" + p, nil
		}
		return "当前没有系统提示词。", nil
	}
	if !s.mayChange(m) {
		return "在群里只有管理员可以修改系统提示词。", nil
	}
	reset := strings.EqualFold(args, "reset")
	if !reset && len([]rune(args)) > maxSystemPrompt {
		return fmt.Sprintf("系统提示词太长了（%d 个字），最多 %d 个字。", len([]rune(args)), maxSystemPrompt), nil
	}
	if err := s.settings.SetSystem(ctx, s.prompter.settingsKey(m), args, reset); err != nil {
		return "", retry.Mark(fmt.Errorf("set the system prompt: %w", err))
	}
	log.Log(ctx, logging.LevelNotice, "system prompt changed", "reset", reset, "chars", len([]rune(args)))
	if reset {
		return "已恢复默认的系统提示词。", nil
	}
	return "已设置本会话的系统提示词。", nil
}

func (s *Control) switchModel(ctx context.Context, log *slog.Logger, m chat.Message, args string) (string, error) {
	set, err := s.settings.Load(ctx, s.prompter.settingsKey(m))
	if err != nil {
		return "", retry.Mark(fmt.Errorf("read the settings: %w", err))
	}
	if args == "" {
		return "可用的模型（✓ 为当前使用的）：\n" + s.modelList(s.prompter.model(set)), nil
	}
	if !slices.Contains(s.models, args) {
		return fmt.Sprintf("没有名为 %s 的模型。可用的模型：\n%s", args, s.modelList(s.prompter.model(set))), nil
	}
	if !s.mayChange(m) {
		return "在群里只有管理员可以切换模型。", nil
	}
	if err := s.settings.SetModel(ctx, s.prompter.settingsKey(m), args); err != nil {
		return "", retry.Mark(fmt.Errorf("switch the model: %w", err))
	}
	log.Log(ctx, logging.LevelNotice, "model switched", "model", args)
	return "本会话已切换到模型 " + args + "。", nil
}

func (s *Control) modelList(current string) string {
	var b strings.Builder
	for _, name := range s.models {
		mark := "  "
		if name == current {
			mark = "✓ "
		}
		b.WriteString(mark + name + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
