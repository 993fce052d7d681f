package reply

import (
	"context"
	"fmt"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// describePictureQuestion is asked of pictures sent without words.
const describePictureQuestion = "请描述这张图片。"

// prompt gathers what the model is asked about m: the system prompt, the
// asker's history, the question and its pictures, and which model reads
// them. refusal, when not empty, is what to tell the user instead of asking
// (a picture the robot cannot read, a message with nothing to ask).
func (s *Service) prompt(ctx context.Context, j *job) (p chat.Prompt, model Model, refusal string, err error) {
	m := j.m
	images, refusal, err := s.pictures(ctx, j.log, m)
	switch {
	case err != nil || refusal != "":
		return p, nil, refusal, err
	case m.Text == "" && len(images) == 0:
		return p, nil, unsupportedText(m.Type), nil
	}
	history, err := j.history.wait(ctx)
	if err != nil {
		return p, nil, "", retry.Mark(fmt.Errorf("load history: %w", err))
	}
	set, err := j.settings.wait(ctx)
	if err != nil {
		return p, nil, "", retry.Mark(fmt.Errorf("load the conversation's settings: %w", err))
	}
	p = chat.Prompt{System: s.systemPrompt(set), History: history, Question: m.Text, Images: images}
	model = s.cfg.Model
	if name := s.model(set); name != s.cfg.DefaultModel && len(images) == 0 {
		p.Model = name // pictures go to VISION_MODEL whatever the conversation's
	}
	if len(images) > 0 {
		model = s.cfg.Vision
		if p.Question == "" {
			p.Question = describePictureQuestion
		}
	}
	p.Question = s.asked(m, p.Question)
	if window := s.cfg.MaxContextTokens; window > 0 {
		dropped, fits := p.Fit(window)
		if !fits {
			j.log.Log(ctx, logging.LevelNotice, "the question alone exceeds the context window", "questionTokens", chat.Tokens(p.Question), "window", window)
			return p, nil, tooLongText(chat.Tokens(p.Question), p.Room(window)), nil
		}
		if dropped > 0 {
			j.log.InfoContext(ctx, "the oldest turns left out to fit the context window", "dropped", dropped, "kept", len(p.History), "window", window)
		}
	}
	return p, model, "", nil
}

// tooLongText answers a question longer than the model may read.
func tooLongText(tokens, room int) string {
	return fmt.Sprintf("抱歉，你的问题太长了：约 %d 个 token，我一次最多能读约 %d 个（中文大约 %d 个字）。请缩短后再发，或分几次发。", tokens, room, room)
}

// asked is question as the model reads it, and the history keeps it: in a
// group that shares one context, after its asker's name, so that the model
// knows who said what.
func (s *Service) asked(m chat.Message, question string) string {
	if !m.IsGroup() || !s.cfg.SharedGroupContext {
		return question
	}
	name := m.SenderNick
	if name == "" {
		name = "一位成员"
	}
	return name + "：" + question
}

// unsupportedText answers a message that holds nothing the robot can ask
// the model.
func unsupportedText(msgtype string) string {
	switch msgtype {
	case "text", "richText", "audio":
		return "没有收到文字内容，请直接输入你的问题。"
	case "picture":
		return "抱歉，我目前只能阅读文字，看不了图片。请用文字描述你的问题。"
	case "video":
		return "抱歉，我目前只能阅读文字，看不了视频。请用文字描述你的问题。"
	case "file":
		return "抱歉，我目前只能阅读文字，打不开文件。请把内容以文字发给我。"
	default:
		return "抱歉，这类消息我还不能处理。我能阅读文字消息和语音转写的文字。"
	}
}

// loadHistory starts loading the last HistoryLength turns of m's asker.
func (s *Service) loadHistory(ctx context.Context, m chat.Message) *pending[[]chat.Turn] {
	return begin(ctx, func(ctx context.Context) ([]chat.Turn, error) {
		return s.cfg.History.Load(ctx, s.historyOwner(m), s.cfg.HistoryLength)
	})
}
