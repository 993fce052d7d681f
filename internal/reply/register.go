package reply

import (
	"context"
	"log/slog"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// register makes sure DingTalk sends the presses of the robot's cards'
// buttons to url (the conversation function's /card, which each message's
// event names), beside the message's answer: the registrar registers it
// once across instances, then does nothing. The function it returns waits
// for it, so that it ends within the invocation.
func (s *Service) register(ctx context.Context, log *slog.Logger, url string) (wait func()) {
	if url == "" || !offered(s.registrar) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.registrar.Ensure(ctx, url); err != nil {
			// The next message tries again; until then a press has
			// nowhere to go, and the buttons do nothing.
			log.WarnContext(ctx, "could not register where DingTalk sends the presses of the cards' buttons", "err", err)
		}
	}()
	return func() { <-done }
}

// keepCard records, beside the answer, which message the card with
// buttons answers, so that a press on it finds its question and its
// asker; the function it returns waits for it.
func (w *Writer) keepCard(ctx context.Context, j *job, card chat.Buttons) (wait func()) {
	m := j.m
	rec := chat.CardRecord{
		MessageID: m.ID, ConversationID: m.ConversationID, ConversationType: m.ConversationType,
		Owner: m.HistoryOwner(), AskerStaffID: m.SenderStaffID, SenderID: m.SenderID, AskedAt: m.CreatedAt,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.cards.Keep(ctx, card.CardID(), rec, w.now()); err != nil {
			j.log.WarnContext(ctx, "could not keep which message the card answers: its buttons will do nothing", "err", err)
		}
	}()
	return func() { <-done }
}
