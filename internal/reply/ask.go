package reply

import (
	"context"
	"errors"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// ask puts m's question to the model, within TIMEOUT, and shows the answer
// as it is written where the conversation can show it. A model that fails
// gets its failure told to the user in words they understand, and the
// history stays as it was, so that the question can simply be asked again.
func (s *Service) ask(ctx context.Context, j *job) (response, error) {
	m, log := j.m, j.log
	q, refusal, err := s.prompt(ctx, j)
	if err != nil || refusal != "" {
		return response{text: refusal}, err
	}
	defer q.done()
	p, model := q.p, q.model
	j.unbadge = s.badge(ctx, log, m)
	draft := s.cfg.Outbox.Open(ctx, m, j.attempt)
	askCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	askCtx, unwatch := s.watchStop(askCtx, log, m)
	defer unwatch()
	c, written, err := s.complete(askCtx, model, p, draft)
	if errors.Is(err, chat.ErrContextTooLong) && len(p.History) > 0 {
		// The estimate was too low for this model's tokenizer: once more
		// with the newer half of the history.
		kept := p.History[(len(p.History)+1)/2:]
		log.WarnContext(ctx, "the model refused the prompt as too long: asking again with half the history", "historyTurns", len(p.History), "kept", len(kept))
		p.History = kept
		c, written, err = s.complete(askCtx, model, p, draft)
	}
	raw := c.Text
	if err != nil && errors.Is(context.Cause(askCtx), errStopped) {
		shown := s.visible(written)
		used := chat.Usage{Prompt: p.Tokens(), Completion: chat.Tokens(written)}
		log.Log(ctx, logging.LevelNotice, "stopped by the asker", "historyTurns", len(p.History), "answerBytes", len(shown),
			"promptTokens", used.Prompt, "completionTokens", used.Completion, "usageReported", false)
		return response{text: stoppedText(shown), draft: draft, usage: used, stopped: true}, nil
	}
	if err != nil {
		log.ErrorContext(ctx, "the model did not answer", "err", err, "historyTurns", len(p.History), "pictures", len(p.Images))
		return response{text: failureText(err, s.cfg.Timeout), draft: draft}, nil
	}
	t := splitThinking(raw)
	if t.answer == "" {
		log.ErrorContext(ctx, "the model only reasoned and gave no answer", "reasoningBytes", len(t.reasoning))
		return response{text: noAnswerText, draft: draft}, nil
	}

	// History keeps the answer alone: reasoning sent back to a reasoning
	// model is wasted tokens at best, and what its makers advise against.
	turn := chat.Turn{
		MessageID: m.ID, Question: q.remembered, Answer: t.answer,
		AskedAt: m.CreatedAt, AnsweredAt: s.cfg.Now().UTC(),
	}
	used, reported := c.Usage, c.Usage != (chat.Usage{})
	if !reported {
		// Some providers report no usage: count the estimate instead.
		used = chat.Usage{Prompt: p.Tokens(), Completion: chat.Tokens(raw)}
	}
	log.Log(ctx, logging.LevelNotice, "answered", "historyTurns", len(p.History), "answerBytes", len(t.answer), "pictures", len(p.Images),
		"promptTokens", used.Prompt, "completionTokens", used.Completion, "usageReported", reported)
	text := t.shown(s.cfg.ShowThinking)
	if len(q.notes) > 0 {
		text += "\n\n" + strings.Join(q.notes, "\n")
	}
	return response{text: text, turn: &turn, draft: draft, usage: used, taken: q.taken}, nil
}

// complete asks the model: streamed onto the draft when there is one, else
// in one piece unless \stop is offered, which needs what was written so
// far. It returns that too, for an answer cut short.
func (s *Service) complete(ctx context.Context, model Model, p chat.Prompt, draft chat.Draft) (c chat.Completion, written string, err error) {
	if draft == nil && s.cfg.Stops == nil {
		c, err = model.Complete(ctx, p)
		return c, c.Text, err
	}
	c, err = model.Stream(ctx, p, func(soFar string) error {
		written = soFar
		if draft != nil {
			draft.Show(s.visible(soFar))
		}
		return nil
	})
	return c, written, err
}

// visible is what the user may see of an answer still being written: no
// reasoning unless SHOW_THINKING, and never half a tag.
func (s *Service) visible(soFar string) string {
	return splitThinking(withoutPartialTag(soFar)).shown(s.cfg.ShowThinking)
}
