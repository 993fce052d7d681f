package reply

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// Control is conversation control: whether a message gets an answer and
// who may ask (this file), how often (usage.go), and the commands
// (commands.go, settings.go, stop.go's \stop). It decides before the
// model is asked, and answers commands without it.
type Control struct {
	outbox    Outbox
	access    Access
	history   History
	documents Documents
	settings  Settings
	stops     Stops
	questions Questions
	tools     Tools
	decisions Decisions
	cards     Cards
	votes     Votes
	// models are MODELS, which \model offers when there are two or more.
	models []string
	// sharedGroupContext: GROUP_CONTEXT=group; dailyLimit: DAILY_LIMIT
	// (0 when nothing counts).
	sharedGroupContext bool
	dailyLimit         int
	now                func() time.Time
	// prompter says whose history a message belongs to and which
	// settings are in force.
	prompter *Prompter
}

// ControlConfig is what Control needs beyond the Prompter, whose history,
// files, settings and models its commands act on.
type ControlConfig struct {
	// Outbox says whether an answer can reach a message's sender.
	Outbox Outbox
	// Access says who may ask, and who administers.
	Access Access
	// Stops, when offered, keep \stop's requests; nil offers no \stop.
	Stops Stops
	// Questions, when offered, count each sender's answered questions per
	// day, for DailyLimit and \usage; nil counts nothing, and then
	// nothing holds a DailyLimit.
	Questions Questions
	// DailyLimit is how many questions a sender may ask a day
	// (DAILY_LIMIT); 0 means no limit. Admins are exempt.
	DailyLimit int
	// Tools, when offered, are what the model may use, which \tools
	// lists; nil offers no \tools.
	Tools Tools
	// Decisions, with Tools, keep \yes and \no: whether the model may
	// make a call that waits for a yes.
	Decisions Decisions
	// Cards and Votes, with cards that have buttons, tell which answer a
	// press is on, and keep the votes that \feedback counts; nil: no
	// buttons, and no \feedback.
	Cards Cards
	Votes Votes
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewControl returns conversation control over p's conversations; a port
// cfg leaves nil is a feature that is off (features.go).
func NewControl(cfg ControlConfig, p *Prompter) *Control {
	if cfg.Questions == nil {
		cfg.DailyLimit = 0
	}
	return &Control{
		outbox: cfg.Outbox, access: cfg.Access, history: p.history, documents: p.documents,
		settings: p.settings, stops: orOff[Stops](cfg.Stops, noStops{}),
		questions: orOff[Questions](cfg.Questions, noQuestions{}), models: p.models,
		tools: orOff[Tools](cfg.Tools, noTools{}), decisions: orOff[Decisions](cfg.Decisions, noDecisions{}),
		cards: orOff[Cards](cfg.Cards, noCards{}), votes: orOff[Votes](cfg.Votes, noVotes{}),
		sharedGroupContext: p.sharedGroupContext, dailyLimit: cfg.DailyLimit, now: orNow(cfg.Now), prompter: p,
	}
}

// admit decides whether m, claimed, gets an answer at all: whether one
// can reach its sender. A message nobody can be answered on is dropped
// before any work is done for it. It comes after the claim, so that a
// message delivered again is never counted twice.
func (s *Control) admit(ctx context.Context, log *slog.Logger, m chat.Message) bool {
	if err := s.outbox.Reachable(m); err != nil {
		log.ErrorContext(ctx, "no answer can reach the sender: dropping the message", "err", err)
		return false
	}
	return true
}

// Access says who may ask the robot. An empty list lets everyone through;
// a sender passes when both lists that apply let them through: Users in
// every conversation, Groups in a group. Admins always pass, and may change
// a group's settings and clear a group's shared history.
type Access struct {
	// Users are staff ids (ALLOW_USERS).
	Users []string
	// Groups are conversation ids of groups (ALLOW_GROUPS).
	Groups []string
	// Admins are staff ids (ADMIN_USERS).
	Admins []string
}

// admin reports whether m's sender is an administrator. A sender without
// a staff id (an external contact) never is.
func (a Access) admin(m chat.Message) bool {
	return m.SenderStaffID != "" && slices.Contains(a.Admins, m.SenderStaffID)
}

// allows reports whether m's sender may ask.
func (a Access) allows(m chat.Message) bool {
	if a.admin(m) {
		return true
	}
	if len(a.Users) > 0 && (m.SenderStaffID == "" || !slices.Contains(a.Users, m.SenderStaffID)) {
		return false
	}
	return !m.IsGroup() || len(a.Groups) == 0 || slices.Contains(a.Groups, m.ConversationID)
}

// notAllowedText is what a sender who may not ask is told, once per
// message: short, and naming the command that tells an administrator what
// to add.
const notAllowedText = `抱歉，你还没有使用这个机器人的权限。发送 \whoami 可以看到你的 staffId 和本会话的 conversationId，把它们发给管理员开通即可。`

// refuse says why j is not answered, or "" when it is: a sender who may not
// ask gets one short refusal, and nothing reaches the model; so does a
// question over the sender's daily limit. An open command (\whoami)
// answers anyone.
func (s *Control) refuse(ctx context.Context, j *job) string {
	if j.isCommand && j.cmd.open {
		return ""
	}
	if !s.access.allows(j.m) {
		j.log.Log(ctx, logging.LevelNotice, "the sender may not ask: refused", "staffId", j.m.SenderStaffID, "group", j.m.IsGroup())
		return notAllowedText
	}
	if !j.isCommand {
		return s.overLimit(ctx, j)
	}
	return ""
}

// historyOwner names whose history m belongs to: in a group with a shared
// context (GROUP_CONTEXT=group), the group's; else that of m's asker in
// its conversation.
func (s *Prompter) historyOwner(m chat.Message) string {
	if m.IsGroup() && s.sharedGroupContext {
		return m.GroupHistoryOwner()
	}
	return m.HistoryOwner()
}
