package reply

import (
	"context"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// respond decides what to say to m: a command's answer when m is one, a
// word that its file is kept when it is a file (documents.go), else the
// model's answer to the question it asks.
func (s *Service) respond(ctx context.Context, j *job) (response, error) {
	if refusal := s.control.refuse(ctx, j); refusal != "" {
		return response{text: refusal}, nil
	}
	if j.isCommand {
		text, err := j.cmd.run(withArrival(ctx, j.received), j.log, j.m, j.args)
		return response{text: text}, err
	}
	if j.m.File != nil {
		return s.prompter.keepFile(ctx, j)
	}
	r, err := s.ask(ctx, j)
	s.control.giveBack(ctx, j, r, err)
	return r, err
}

// ask gathers what the model is asked about j's question (prompt.go) and
// has the writer write the answer (ask.go).
func (s *Service) ask(ctx context.Context, j *job) (response, error) {
	q, refusal, err := s.prompter.prompt(ctx, j)
	if err != nil || refusal != "" {
		return response{text: refusal}, err
	}
	defer q.done()
	return s.writer.write(ctx, j, q)
}

// arrivalKey carries, in a command's context, when the conversation
// function received the command's message (chat.Event.ReceivedAt).
type arrivalKey struct{}

func withArrival(ctx context.Context, received time.Time) context.Context {
	return context.WithValue(ctx, arrivalKey{}, received)
}

// arrival is when the conversation function received the message of the
// command ctx runs, on the functions' clock, the same on each of FC's
// deliveries; for an event without it (from an older conversation
// function), when m was sent.
func (s *Control) arrival(ctx context.Context, m chat.Message) time.Time {
	if t, ok := ctx.Value(arrivalKey{}).(time.Time); ok && !t.IsZero() {
		return t
	}
	return s.prompter.sentAt(m)
}
