package reply

import (
	"log/slog"
	"time"
)

// testConfig is what the four parts of a Service need, at once, as a test
// sets it and edits it; assemble makes the Service from it the way
// cmd/reply does.
type testConfig struct {
	History  History
	Receipts Receipts
	Outbox   Outbox
	Model    Model

	Vision          Model
	Files           Files
	MaxPictureBytes int64

	Documents     Documents
	Reader        Reader
	MaxFileBytes  int64
	DocumentsKept time.Duration

	SystemPrompt       string
	ShowThinking       bool
	HistoryLength      int
	Settings           Settings
	Models             []string
	DefaultModel       string
	Questions          Questions
	Reactions          Reactions
	Stops              Stops
	StopPoll           time.Duration
	DailyLimit         int
	MaxContextTokens   int
	Timeout            time.Duration
	DeliveryReserve    time.Duration
	Access             Access
	SharedGroupContext bool
	ClaimLease         time.Duration
	Tools              Tools
	ToolLog            ToolLog
	MaxToolRounds      int
	Decisions          Decisions
	ConfirmWait        time.Duration
	Cards              Cards
	Votes              Votes
	Registrar          Registrar
	Instance           string
	Logger             *slog.Logger
	Now                func() time.Time
}

func assemble(cfg testConfig) *Service {
	p := NewPrompter(PrompterConfig{
		History: cfg.History, HistoryLength: cfg.HistoryLength, MaxContextTokens: cfg.MaxContextTokens,
		SharedGroupContext: cfg.SharedGroupContext, SystemPrompt: cfg.SystemPrompt,
		Model: cfg.Model, Models: cfg.Models, DefaultModel: cfg.DefaultModel, Settings: cfg.Settings,
		Vision: cfg.Vision, Files: cfg.Files, MaxPictureBytes: cfg.MaxPictureBytes,
		Documents: cfg.Documents, Reader: cfg.Reader, MaxFileBytes: cfg.MaxFileBytes, DocumentsKept: cfg.DocumentsKept,
		Now: cfg.Now,
	})
	return New(Parts{
		Claims: NewClaims(ClaimsConfig{Receipts: cfg.Receipts, Lease: cfg.ClaimLease, Timeout: cfg.Timeout, Now: cfg.Now}),
		Control: NewControl(ControlConfig{
			Outbox: cfg.Outbox, Access: cfg.Access, Stops: cfg.Stops, Questions: cfg.Questions,
			DailyLimit: cfg.DailyLimit, Tools: cfg.Tools, Decisions: cfg.Decisions, Now: cfg.Now,
			Cards: cfg.Cards, Votes: cfg.Votes,
		}, p),
		Prompter: p,
		Writer: NewWriter(WriterConfig{
			Outbox: cfg.Outbox, Receipts: cfg.Receipts, Reactions: cfg.Reactions, Stops: cfg.Stops,
			StopPoll: cfg.StopPoll, Timeout: cfg.Timeout, DeliveryReserve: cfg.DeliveryReserve,
			ShowThinking: cfg.ShowThinking, Tools: cfg.Tools, ToolLog: cfg.ToolLog, MaxToolRounds: cfg.MaxToolRounds,
			Decisions: cfg.Decisions, Access: cfg.Access, ConfirmWait: cfg.ConfirmWait, Cards: cfg.Cards,
			Now: cfg.Now,
		}),
		Instance:  cfg.Instance,
		Logger:    cfg.Logger,
		Registrar: cfg.Registrar,
	})
}
