package reply

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// newJob is the message ev hands over, as this attempt at it: the
// invocation's attempt, what the message is (a command or not).
func (s *Service) newJob(ctx context.Context, ev chat.Event) (*job, error) {
	inv, err := fcruntime.FromContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	m := ev.Message
	if m.CreatedAt.IsZero() {
		// A callback without createAt is dated by when the conversation
		// function received it, the same on every delivery: its receipts
		// then have a day, and are pruned with that day's.
		m.CreatedAt = ev.ReceivedAt
	}
	// The attempt is what holds the message's claim and names its AI card.
	attempt := chat.Attempt{
		RequestID: inv.RequestID, Retry: inv.RetryCount,
		Instance: s.instance + "." + strconv.FormatUint(s.deliveries.Add(1), 10),
	}
	j := &job{m: m, attempt: attempt, log: s.logger.With("msgId", m.ID), received: ev.ReceivedAt}
	j.cmd, j.args, j.isCommand = s.control.command(m.Text)
	return j, nil
}

// readAhead starts reading what j's answer will need (its sender's day,
// its asker's history, its conversation's settings, the files sent for
// it) while the message is being claimed, which saves the answer their
// round trips to the bucket; the function it returns stops the reads no
// one waited for.
func (s *Service) readAhead(ctx context.Context, j *job) (stop func()) {
	if !j.isCommand && s.control.dailyLimit > 0 {
		j.usage = s.control.countDay(ctx, j)
	}
	if !j.isCommand && j.m.File == nil { // a file is kept, not asked about
		j.history = s.prompter.loadHistory(ctx, j.m)
		j.settings = s.prompter.loadSettings(ctx, j.m)
		j.documents = s.prompter.loadDocuments(ctx, j.m)
	}
	return func() {
		j.usage.stop()
		j.history.stop()
		j.settings.stop()
		j.documents.stop()
	}
}

// job is one message being answered by one attempt.
type job struct {
	m       chat.Message
	attempt chat.Attempt
	log     *slog.Logger
	// cmd is the command m is, when isCommand.
	cmd       command
	args      string
	isCommand bool
	// history is the asker's history, loading since the message came;
	// nil for a command.
	history *pending[[]chat.Turn]
	// hold keeps the attempt's claim on m.
	hold *hold
	// usage is the asker's day being read, for a file past the limit;
	// nil without one.
	usage *pending[chat.DayUsage]
	// received is when the conversation function received m: its day
	// for DAILY_LIMIT (usage.go).
	received time.Time
	// slot is set while m holds one of its asker's DAILY_LIMIT slots.
	slot bool
	// settings are the conversation's settings being read; nil without
	// any.
	settings *pending[chat.Settings]
	// unbadge, once ask badged the message, takes the badge off.
	unbadge func()
	// documents are the files the asker sent for their next question,
	// being read; nil without any store of them.
	documents *pending[[]chat.Document]
	// toolRounds counts the tool rounds earlier attempts recorded
	// (tools.go).
	toolRounds int
}

// response is what the robot decided to say to a message.
type response struct {
	// text is the reply as the user reads it.
	text string
	// turn, when the model answered, is the turn for the history.
	turn *chat.Turn
	// draft, when not nil, shows text already, unfinished.
	draft chat.Draft
	// usage is what the model's answer cost.
	usage chat.Usage
	// taken are the kept files the answer took.
	taken []chat.Document
	// stopped is true when the asker stopped the answer (\stop): it cost
	// what it cost, but it has no turn.
	stopped bool
}
