// Command reply is the event function that answers each message: FC invokes
// it asynchronously with the message the conversation function accepted.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/config"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/forked"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/openai"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
	"github.com/dingtalk-llm/fcrobot/internal/reply"
	"github.com/dingtalk-llm/fcrobot/internal/toolbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "reply: %v\n", err)
		os.Exit(1)
	}
}

// settings are the function's environment variables: the Python original's
// names and meanings, and a few new ones with defaults that keep its
// behaviour.
type settings struct {
	APIKey        string            `env:"CHATGPT_API_KEY"`
	UserAPIKey    string            `env:"USER_API_KEY"`
	Endpoint      string            `env:"ENDPOINT" envDefault:"https://api.openai.com"`
	Model         string            `env:"MODEL" envDefault:"gpt-4.1-mini"`
	Temperature   float32           `env:"TEMPERATURE" envDefault:"0.7"`
	SystemPrompt  string            `env:"SYSTEM_PROMPT"`
	HistoryLength int               `env:"HISTORY_LENGTH" envDefault:"5"`
	OSSMountPoint string            `env:"OSS_MOUNT_POINT" envDefault:"/mnt/oss"`
	OSSBucket     string            `env:"OSS_BUCKET"`
	OSSBucketPath string            `env:"OSS_BUCKET_PATH" envDefault:"/"`
	OSSEndpoint   string            `env:"OSS_ENDPOINT"`
	Region        string            `env:"FC_REGION"`
	Timeout       float64           `env:"TIMEOUT" envDefault:"55"`
	FunctionTime  float64           `env:"FUNCTION_TIMEOUT" envDefault:"120"`
	WebhookHosts  config.List       `env:"SESSION_WEBHOOK_HOSTS" envDefault:"oapi.dingtalk.com"`
	AppKey        string            `env:"DINGTALK_APP_KEY"`
	AppSecret     string            `env:"DINGTALK_APP_SECRET"`
	APIEndpoint   string            `env:"DINGTALK_API_ENDPOINT" envDefault:"https://api.dingtalk.com"`
	ReplyFormat   string            `env:"REPLY_FORMAT" envDefault:"markdown"`
	MarkdownChars int               `env:"MARKDOWN_MAX_CHARS" envDefault:"3500"`
	CardTemplate  string            `env:"CARD_TEMPLATE_ID"`
	CardKey       string            `env:"CARD_CONTENT_KEY" envDefault:"content"`
	CardInterval  time.Duration     `env:"CARD_UPDATE_INTERVAL" envDefault:"300ms"`
	CardMaxChars  int               `env:"CARD_MAX_CHARS" envDefault:"3000"`
	CardUpdates   int               `env:"CARD_MAX_UPDATES" envDefault:"20"`
	CardRouteKey  string            `env:"CARD_CALLBACK_ROUTE_KEY"`
	CardSecret    string            `env:"CARD_CALLBACK_SECRET"`
	MonthlyCalls  int               `env:"DINGTALK_MONTHLY_API_CALLS"`
	VisionModel   string            `env:"VISION_MODEL"`
	MaxPictureMB  int               `env:"MAX_PICTURE_MB" envDefault:"10"`
	MaxFileMB     int               `env:"MAX_FILE_MB" envDefault:"10"`
	FileReadMB    int               `env:"FILE_READ_MEMORY_MB" envDefault:"48"`
	ShowThinking  bool              `env:"SHOW_THINKING" envDefault:"false"`
	ThinkingBadge bool              `env:"THINKING_REACTION" envDefault:"false"`
	AllowUsers    config.List       `env:"ALLOW_USERS"`
	AllowGroups   config.List       `env:"ALLOW_GROUPS"`
	AdminUsers    config.List       `env:"ADMIN_USERS"`
	GroupContext  string            `env:"GROUP_CONTEXT" envDefault:"member"`
	ContextTokens int               `env:"MAX_CONTEXT_TOKENS" envDefault:"8000"`
	DailyLimit    int               `env:"DAILY_LIMIT" envDefault:"0"`
	Models        config.List       `env:"MODELS"`
	WebSearch     string            `env:"WEB_SEARCH" envDefault:"off"`
	SearchKey     string            `env:"SEARCH_API_KEY"`
	SearchURL     string            `env:"SEARCH_ENDPOINT"`
	SearchMode    string            `env:"SEARCH_MODE" envDefault:"tool"`
	MCPServers    string            `env:"MCP_SERVERS"`
	ToolRounds    int               `env:"MAX_TOOL_ROUNDS" envDefault:"5"`
	ConfirmWait   int               `env:"CONFIRM_WAIT" envDefault:"60"`
	Verbose       logging.Verbosity `env:"VERBOSE" envDefault:"25"`
}

const usage = `reply: the function that answers the robot's messages.

FC invokes it asynchronously (POST /invoke) with each message; it serves on
0.0.0.0:$FC_CUSTOM_LISTEN_PORT (else $FC_SERVER_PORT, else 9000).

Environment:
  ENDPOINT               OpenAI-compatible endpoint, with or without /v1
                         (default https://api.openai.com)
  CHATGPT_API_KEY        API key for OpenAI's endpoint
  USER_API_KEY           API key for any other endpoint (else CHATGPT_API_KEY)
  MODEL                  model name (default gpt-4.1-mini)
  TEMPERATURE            sampling temperature, 0 to 2 (default 0.7)
  SYSTEM_PROMPT          system prompt (default none)
  HISTORY_LENGTH         earlier question/answer pairs sent along (default 5)
  OSS_MOUNT_POINT        directory of the mounted OSS bucket, used without OSS_BUCKET (default /mnt/oss)
  TIMEOUT                seconds the model may stay silent: before its first word, and
                         between two (default 55); an answer that flows goes on
  FUNCTION_TIMEOUT       the function's timeout in FC, in seconds (s.yaml's timeout;
                         default 120): an answer ends 20 s before it, to be delivered
  SESSION_WEBHOOK_HOSTS  hosts answers may be posted to (default oapi.dingtalk.com)
  DINGTALK_APP_KEY       the app's AppKey (Client ID); with DINGTALK_APP_SECRET, answers
  DINGTALK_APP_SECRET    whose session webhook expired go through the robot OpenAPI
  DINGTALK_API_ENDPOINT  DingTalk's OpenAPI (default https://api.dingtalk.com)
  REPLY_FORMAT           markdown (default) or text
  MARKDOWN_MAX_CHARS     most characters of one markdown message (default 3500)
  CARD_TEMPLATE_ID       an AI card template: answers stream into a card (needs the app's key)
  CARD_CONTENT_KEY       the template's markdown variable for the answer (default content)
  CARD_UPDATE_INTERVAL   least time between two card updates (default 300ms)
  CARD_MAX_CHARS         most characters of a card; the rest follows in messages (default 3000)
  CARD_MAX_UPDATES       most streaming updates of a card, its final one aside (default 20)
  CARD_CALLBACK_ROUTE_KEY, CARD_CALLBACK_SECRET
                         the cards' buttons (Stop, votes, tool approval; docs/cards.md):
                         both or neither, the same as the conversation function's
  DINGTALK_MONTHLY_API_CALLS
                         the month's budget of metered OpenAPI calls, counted across
                         instances in the bucket (default: none)
  VISION_MODEL           a model that reads pictures: pictures are answered (needs the app's key)
  MAX_PICTURE_MB         largest picture downloaded, in MB (default 10)
  MAX_FILE_MB            largest file read (text, PDF, .docx, .pptx, .xlsx), in MB
                         (default 10; files need the app's key)
  FILE_READ_MEMORY_MB    memory the child process reading one file may use, in MB
                         (default 48, which fits a 128 MB function; 16 to 16384)
  SHOW_THINKING          true shows a reasoning model's <think> text, quoted (default false)
  THINKING_REACTION      true puts a "🤔思考中" badge on each question while it is answered:
                         two metered OpenAPI calls per answer (needs the app's key; default false)
  ALLOW_USERS            staff ids who may ask, comma-separated (default: everyone)
  ALLOW_GROUPS           conversation ids of the groups it answers in (default: every group)
  ADMIN_USERS            staff ids who may always ask, and change a group's settings
  GROUP_CONTEXT          member (default: each member of a group has their own history)
                         or group (one history per group)
  MAX_CONTEXT_TOKENS     most tokens (estimated) of system prompt, history and question
                         together; the oldest turns are left out first (default 8000)
  MODELS                 models \model may switch a conversation to, comma-separated
                         (default: MODEL alone, and no \model)
  DAILY_LIMIT            questions per sender per day, Asia/Shanghai (default 0: no limit;
                         ADMIN_USERS are exempt)
  OSS_BUCKET             the mounted bucket: every store through OSS's API, claims exclusive
                         across instances (without it, through the mount: best effort)
  OSS_BUCKET_PATH        the bucket folder mounted at OSS_MOUNT_POINT (default /)
  OSS_ENDPOINT           OSS endpoint (default: the region's internal one, from FC_REGION)
  ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET, _SECURITY_TOKEN
                         the role's credentials for OSS's API, when a request carries none
  WEB_SEARCH             off (default), dashscope or kimi (the provider's own search),
                         bocha or tavily (searches the robot makes, with SEARCH_API_KEY)
  SEARCH_API_KEY         the Bocha or Tavily API key
  SEARCH_ENDPOINT        the search API's base URL (default the service's own)
  SEARCH_MODE            tool (default: the model calls web_search when it wants) or always
                         (each question is searched first, for models that cannot call tools)
  MCP_SERVERS            remote MCP servers, a JSON array of {"name", "url", "headers",
                         "tools", "trust"} (see docs/tools.md)
  MAX_TOOL_ROUNDS        rounds of tool calls before the model must answer (default 5, 1 to 20)
  CONFIRM_WAIT           seconds an answer waits for a person to allow a tool in an MCP server's
                         confirm list (default 60, 10 to 600; within the function's time)
  VERBOSE                Python log level: 10 debug, 20 info, 25 default, 30, 40
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// The program started again to read one file (forked.Reader): it
	// needs none of the function's configuration, and gets none.
	if forked.IsChild(args) {
		return forked.Child(args, stdin, stdout, stderr, document.Reader{}.Text)
	}
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := flags.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}

	var s settings
	if err := config.Parse(getenv, &s); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(stdout, s.Verbose).With("function", "reply")

	model, err := openai.New(openai.Config{
		BaseURL: s.Endpoint, APIKey: s.apiKey(), Model: s.Model, Temperature: s.Temperature, Logger: logger,
		ExtraBody: s.extraBody(),
	})
	if err != nil {
		return fmt.Errorf("configuration: ENDPOINT: %w", err)
	}
	// With OSS_BUCKET every store (history, receipts, settings, questions,
	// stops, documents and the tally) goes through OSS's API on the objects
	// the mount shows: its create-if-absent holds across instances, and each
	// call is one round trip where the mount makes several.
	objects, err := s.bucketObjects(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if objects != nil {
		checkCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := objects.CheckExclusive(checkCtx)
		cancel()
		switch {
		case errors.Is(err, oss.ErrVersioned):
			return fmt.Errorf("configuration: OSS_BUCKET %s: %w; use a bucket without versioning", s.OSSBucket, err)
		case err != nil:
			logger.ErrorContext(ctx, "could not ask whether OSS_BUCKET has versioning, which would make claims not exclusive "+
				"(the role needs oss:GetBucketVersioning)", "err", err)
		}
	} else {
		logger.WarnContext(ctx, "OSS_BUCKET is not set: messages are claimed through the mount, "+
			"which is exclusive within one instance only; across instances it is best effort")
	}
	instance := rand.Text() // tells this process's attempts and tallies from others'
	st, err := openStores(objects, s.OSSMountPoint, s.MonthlyCalls > 0, instance, logger)
	if err != nil {
		return err
	}
	timeout := time.Duration(s.Timeout * float64(time.Second))
	format, _ := dingtalk.ParseFormat(s.ReplyFormat) // validated
	webhooks := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{
		HTTPClient: &http.Client{Timeout: 15 * time.Second}, AllowedHosts: s.WebhookHosts, Logger: logger,
	})
	outbox := dingtalk.OutboxConfig{
		Webhooks:  webhooks,
		RobotCode: s.AppKey,
		Format:    format, MarkdownMaxChars: s.MarkdownChars,
		Card: dingtalk.CardConfig{
			TemplateID: s.CardTemplate, ContentKey: s.CardKey, Interval: s.CardInterval, MaxChars: s.CardMaxChars,
			MaxUpdates: s.CardUpdates, RouteKey: s.CardRouteKey, IDs: dingtalk.CardIDs{Secret: s.CardSecret},
		},
		Logger: logger,
	}
	tally := st.tally
	if tally != nil {
		outbox.CallsLeft = func() (int, bool) { return s.MonthlyCalls - tally.Used(), true }
	}
	// Without DINGTALK_APP_KEY, nothing can download what users send,
	// nor badge their questions, nor register where the presses of the
	// cards' buttons go: those features are off (nil).
	var files reply.Files
	var reactions reply.Reactions
	var registrar reply.Registrar
	if s.AppKey != "" {
		// One client, so that the robot messages, the cards and the
		// downloads of an instance share one access token.
		api := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{
			HTTPClient: &http.Client{Timeout: 15 * time.Second}, BaseURL: s.APIEndpoint,
			AppKey: s.AppKey, AppSecret: s.AppSecret, Logger: logger, OnCall: countCall(tally),
		})
		outbox.OpenAPI = api
		files = dingtalk.Attachments{OpenAPI: api, RobotCode: s.AppKey}
		if s.CardRouteKey != "" {
			registrar = &dingtalk.Registrar{OpenAPI: api, RouteKey: s.CardRouteKey, Secret: s.CardSecret, Marks: st.registrations}
		}
		if s.ThinkingBadge {
			// The badge gives way first near the month's budget: below
			// what a card answer costs, answers get the calls.
			reactions = dingtalk.Reactions{OpenAPI: api, RobotCode: s.AppKey, CallsLeft: outbox.CallsLeft, Reserve: outbox.Card.CallsPerAnswer() + 2}
		}
	}
	out := dingtalk.NewOutbox(outbox)
	var vision reply.Model // nil without VISION_MODEL: pictures are not read
	if s.VisionModel != "" {
		if vision, err = openai.New(openai.Config{
			BaseURL: s.Endpoint, APIKey: s.apiKey(), Model: s.VisionModel, Temperature: s.Temperature, Logger: logger,
		}); err != nil {
			return fmt.Errorf("configuration: ENDPOINT: %w", err)
		}
	}
	if tally != nil {
		// The month's count is kept in the bucket off the answer's path:
		// what this instance spent goes out, and the others' comes in, every
		// tallyEvery, and once more at the end.
		go syncTally(ctx, tally, logger)
		defer func() {
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tally.Sync(final); err != nil {
				logger.Warn("could not keep the month's OpenAPI calls in the bucket", "err", err)
			}
		}()
	}
	tools, closeTools, err := openTools(s, logger)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer closeTools()
	access := reply.Access{Users: s.AllowUsers, Groups: s.AllowGroups, Admins: s.AdminUsers}
	// Cards with buttons: which answer a card holds, and its votes.
	var cards reply.Cards
	var votes reply.Votes
	if s.CardRouteKey != "" {
		cards, votes = st.cards, st.votes
	}
	prompter := reply.NewPrompter(reply.PrompterConfig{
		History: st.history, HistoryLength: s.HistoryLength, MaxContextTokens: s.ContextTokens,
		SharedGroupContext: s.GroupContext == "group", SystemPrompt: s.SystemPrompt,
		Model: model, Models: s.models(), DefaultModel: s.Model, Settings: st.settings,
		Vision: vision, Files: files, MaxPictureBytes: int64(s.MaxPictureMB) << 20,
		Documents: st.documents, Reader: fileReader(logger, int64(s.FileReadMB)<<20), MaxFileBytes: int64(s.MaxFileMB) << 20,
	})
	svc := reply.New(reply.Parts{
		Claims: reply.NewClaims(reply.ClaimsConfig{Receipts: st.receipts, Timeout: timeout}),
		Control: reply.NewControl(reply.ControlConfig{
			Outbox: out, Access: access,
			Stops: st.stops, Questions: st.questions, DailyLimit: s.DailyLimit, Tools: tools, Decisions: st.decisions,
			Cards: cards, Votes: votes,
		}, prompter),
		Prompter: prompter,
		Writer: reply.NewWriter(reply.WriterConfig{
			Outbox: out, Receipts: st.receipts, Reactions: reactions, Stops: st.stops,
			Timeout: timeout, ShowThinking: s.ShowThinking,
			Tools: tools, ToolLog: st.receipts, MaxToolRounds: s.ToolRounds,
			Decisions: st.decisions, Access: access, ConfirmWait: time.Duration(s.ConfirmWait) * time.Second,
			Cards: cards,
		}),
		Instance:  instance,
		Logger:    logger,
		Registrar: registrar,
	})
	functionTimeout := time.Duration(s.FunctionTime * float64(time.Second))
	rt := fcruntime.New(fcruntime.Events(svc.Handle, logger), fcruntime.Config{
		Log: stdout, Logger: logger, FunctionTimeout: functionTimeout,
		// An answer may flow until near the function's end: on SIGTERM or
		// FC's pre-stop, the answers in flight get as long to finish.
		DrainTimeout: functionTimeout,
	})
	return rt.Serve(ctx, fcruntime.ListenAddr(getenv), func(addr net.Addr) {
		logger.Log(ctx, logging.LevelNotice, "reply function listening",
			"addr", addr.String(), "model", s.Model, "endpoint", s.Endpoint, "historyLength", s.HistoryLength,
			"timeout", timeout.String(), "functionTimeout", s.FunctionTime, "ossMountPoint", s.OSSMountPoint, "ossBucket", s.OSSBucket, "replyFormat", format,
			"card", s.CardTemplate != "", "cardButtons", s.CardRouteKey != "", "visionModel", s.VisionModel, "maxFileMB", s.MaxFileMB, "showThinking", s.ShowThinking, "thinkingReaction", s.ThinkingBadge,
			"groupContext", s.GroupContext, "maxContextTokens", s.ContextTokens, "dailyLimit", s.DailyLimit, "allowUsers", len(s.AllowUsers), "allowGroups", len(s.AllowGroups), "admins", len(s.AdminUsers),
			"webSearch", s.WebSearch, "searchMode", s.SearchMode, "mcpServers", mcpCount(s.MCPServers), "maxToolRounds", s.ToolRounds)
	})
}

// bucketObjects is the mounted bucket folder through OSS's API, or nil
// without OSS_BUCKET. It signs with the function role's temporary
// credentials: those of the request when FC sends all three, else the
// ALIBABA_CLOUD_* ones FC sets in the environment (docs/protocols.md §9).
func (s settings) bucketObjects(getenv func(string) string) (*oss.Objects, error) {
	if s.OSSBucket == "" {
		return nil, nil
	}
	env := alicloud.Credentials{
		AccessKeyID:     getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
	objects, err := oss.New(oss.Config{
		Bucket: s.OSSBucket, Folder: s.OSSBucketPath, Endpoint: s.OSSEndpoint, Region: s.Region,
		// An instance answers up to instanceConcurrency messages at once,
		// each reading a history's turns at once: keep their connections.
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: bucketTransport()},
		Credentials: func(ctx context.Context) (alicloud.Credentials, error) {
			if inv, err := fcruntime.FromContext(ctx); err == nil && inv.Credentials.Complete() && inv.Credentials.SecurityToken != "" {
				return inv.Credentials, nil
			}
			if !env.Complete() {
				return alicloud.Credentials{}, errors.New("no credentials for OSS: the function needs a role (ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET)")
			}
			return env, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("OSS_BUCKET: %w", err)
	}
	return objects, nil
}

// FUNCTION_TIMEOUT's bounds: an answer needs some time beyond what its
// delivery keeps (reply.DefaultDeliveryReserve), and FC's timeout is at
// most a day.
const (
	minFunctionTimeout = 30 * time.Second
	maxFunctionTimeout = 24 * time.Hour
)

// fileReader reads each file in a child process, this program started
// again (docs/files.md), never in this one: where the program cannot find
// itself, each file is answered as unreadable here, and the log says why.
func fileReader(logger *slog.Logger, memory int64) reply.Reader {
	exe, err := os.Executable()
	if err != nil {
		logger.Error("files cannot be read: the program cannot find itself to start a reader", "err", err)
	}
	return forked.Reader{Program: exe, Logger: logger, Limits: forked.Limits{Memory: memory}}
}

// minCardInterval is the fastest a card may be updated: DingTalk allows a
// few updates a second.
const minCardInterval = 100 * time.Millisecond

func (s settings) validate() error {
	if _, err := dingtalk.ParseFormat(s.ReplyFormat); err != nil {
		return fmt.Errorf("REPLY_FORMAT: %w", err)
	}
	if err := dingtalk.CheckCardCallbackSettings(s.CardRouteKey, s.CardSecret); err != nil {
		return err
	}
	switch {
	case s.CardRouteKey != "" && s.CardTemplate == "":
		return fmt.Errorf("CARD_CALLBACK_ROUTE_KEY is set without CARD_TEMPLATE_ID: the buttons are on the AI card")
	case s.GroupContext != "member" && s.GroupContext != "group":
		return fmt.Errorf("GROUP_CONTEXT must be member or group, got %q", s.GroupContext)
	case len(s.Models) > 0 && !slices.Contains(s.Models, s.Model):
		return fmt.Errorf("MODELS must include MODEL (%s), the model a conversation starts with", s.Model)
	case s.DailyLimit < 0:
		return fmt.Errorf("DAILY_LIMIT must be a number of questions, 0 for none, got %d", s.DailyLimit)
	case s.ContextTokens < 256:
		return fmt.Errorf("MAX_CONTEXT_TOKENS must be at least 256, got %d", s.ContextTokens)
	case s.HistoryLength < 0:
		return fmt.Errorf("HISTORY_LENGTH must be 0 or more, got %d", s.HistoryLength)
	case s.Timeout <= 0:
		return fmt.Errorf("TIMEOUT must be a positive number of seconds, got %v", s.Timeout)
	case s.FunctionTime < minFunctionTimeout.Seconds() || s.FunctionTime > maxFunctionTimeout.Seconds():
		return fmt.Errorf("FUNCTION_TIMEOUT must be the function's timeout in FC, %v to %v seconds "+
			"(an answer ends %v before it, to be delivered), got %v",
			minFunctionTimeout.Seconds(), maxFunctionTimeout.Seconds(), reply.DefaultDeliveryReserve, s.FunctionTime)
	case s.Temperature < 0 || s.Temperature > 2:
		return fmt.Errorf("TEMPERATURE must be between 0 and 2, got %v", s.Temperature)
	case len(s.WebhookHosts) == 0:
		return fmt.Errorf("SESSION_WEBHOOK_HOSTS must name at least one host")
	case s.AppKey != "" && s.AppSecret == "":
		return fmt.Errorf("DINGTALK_APP_KEY is set without DINGTALK_APP_SECRET: the robot OpenAPI needs both")
	case s.CardTemplate != "" && s.AppKey == "":
		return fmt.Errorf("CARD_TEMPLATE_ID is set without DINGTALK_APP_KEY and DINGTALK_APP_SECRET: cards are sent through the app's OpenAPI")
	case s.VisionModel != "" && s.AppKey == "":
		return fmt.Errorf("VISION_MODEL is set without DINGTALK_APP_KEY and DINGTALK_APP_SECRET: pictures are downloaded through the app's OpenAPI")
	case s.ThinkingBadge && s.AppKey == "":
		return fmt.Errorf("THINKING_REACTION is set without DINGTALK_APP_KEY and DINGTALK_APP_SECRET: the badge is put through the app's OpenAPI")
	case s.CardTemplate != "" && strings.TrimSpace(s.CardKey) == "":
		return fmt.Errorf("CARD_CONTENT_KEY must name the card template's variable for the answer")
	case s.MonthlyCalls < 0:
		return fmt.Errorf("DINGTALK_MONTHLY_API_CALLS must be a number of calls, got %d", s.MonthlyCalls)
	case s.CardUpdates < 1 || s.CardUpdates > 1000:
		return fmt.Errorf("CARD_MAX_UPDATES must be between 1 and 1000, got %d", s.CardUpdates)
	case s.CardMaxChars < 500 || s.CardMaxChars > dingtalk.MaxMessageBytes:
		return fmt.Errorf("CARD_MAX_CHARS must be between 500 and %d, got %d", dingtalk.MaxMessageBytes, s.CardMaxChars)
	case s.MarkdownChars < 500 || s.MarkdownChars > dingtalk.MaxMessageBytes:
		return fmt.Errorf("MARKDOWN_MAX_CHARS must be between 500 and %d, got %d", dingtalk.MaxMessageBytes, s.MarkdownChars)
	case s.CardInterval < minCardInterval:
		return fmt.Errorf("CARD_UPDATE_INTERVAL must be at least %v (DingTalk throttles faster updates), got %v", minCardInterval, s.CardInterval)
	case s.MaxPictureMB < 1 || s.MaxPictureMB > 20:
		return fmt.Errorf("MAX_PICTURE_MB must be between 1 and 20 (models take at most 20 MB of pictures), got %d", s.MaxPictureMB)
	case s.FileReadMB < 16 || s.FileReadMB > 16<<10:
		return fmt.Errorf("FILE_READ_MEMORY_MB must be between 16 and %d, got %d (keep it within the function's memory less the reply process's own)", 16<<10, s.FileReadMB)
	case s.MaxFileMB < 1 || s.MaxFileMB > 50:
		return fmt.Errorf("MAX_FILE_MB must be between 1 and 50 (FC's disk holds the files being read), got %d", s.MaxFileMB)
	case s.OSSBucket != "" && s.Region == "" && s.OSSEndpoint == "":
		return fmt.Errorf("OSS_BUCKET is set without OSS_ENDPOINT, and FC_REGION, which FC sets, is not there to name the region's endpoint")
	case !slices.Contains([]string{toolbox.SearchOff, toolbox.SearchDashScope, toolbox.SearchKimi, toolbox.SearchBocha, toolbox.SearchTavily}, s.WebSearch):
		return fmt.Errorf("WEB_SEARCH must be off, dashscope, kimi, bocha or tavily, got %q", s.WebSearch)
	case (s.WebSearch == toolbox.SearchBocha || s.WebSearch == toolbox.SearchTavily) && s.SearchKey == "":
		return fmt.Errorf("WEB_SEARCH=%s needs SEARCH_API_KEY, the %s API key", s.WebSearch, s.WebSearch)
	case s.SearchMode != "tool" && s.SearchMode != "always":
		return fmt.Errorf("SEARCH_MODE must be tool or always, got %q", s.SearchMode)
	case s.SearchMode == "always" && s.WebSearch != toolbox.SearchBocha && s.WebSearch != toolbox.SearchTavily:
		return fmt.Errorf("SEARCH_MODE=always searches each question through the robot's own search: it needs WEB_SEARCH=bocha or tavily, got %q", s.WebSearch)
	case s.ConfirmWait < 10 || s.ConfirmWait > 600:
		return fmt.Errorf("CONFIRM_WAIT must be between 10 and 600 seconds, got %d", s.ConfirmWait)
	case s.ToolRounds < 1 || s.ToolRounds > 20:
		return fmt.Errorf("MAX_TOOL_ROUNDS must be between 1 and 20, got %d", s.ToolRounds)
	case s.isOpenAI() && s.APIKey == "":
		return fmt.Errorf("CHATGPT_API_KEY is required for OpenAI's endpoint %s", s.Endpoint)
	}
	return nil
}

// isOpenAI tells whether ENDPOINT is OpenAI's own API.
func (s settings) isOpenAI() bool {
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Host == "" {
		u, err = url.Parse("https://" + s.Endpoint)
	}
	return err == nil && strings.EqualFold(u.Hostname(), "api.openai.com")
}

// apiKey picks the key the original meant to: CHATGPT_API_KEY for OpenAI,
// USER_API_KEY for any other endpoint, where a user brings their own key.
// A user who set only CHATGPT_API_KEY for another endpoint still gets it
// used.
func (s settings) apiKey() string {
	if !s.isOpenAI() && s.UserAPIKey != "" {
		return s.UserAPIKey
	}
	return s.APIKey
}

// bucketTransport is the HTTP transport of the calls to OSS's API.
func bucketTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// tallyEvery is how often an instance writes its OpenAPI calls to the
// bucket and reads the others': a budget may be overshot by what the other
// instances spend in that time.
const tallyEvery = 30 * time.Second

func syncTally(ctx context.Context, tally *bucket.Tally, logger *slog.Logger) {
	if err := tally.Sync(ctx); err != nil {
		logger.WarnContext(ctx, "could not read the month's OpenAPI calls from the bucket", "err", err)
	}
	tick := time.NewTicker(tallyEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := tally.Sync(ctx); err != nil {
				logger.WarnContext(ctx, "could not keep the month's OpenAPI calls in the bucket", "err", err)
			}
		}
	}
}

// countCall is the OpenAPI's OnCall that counts each call in tally; nil,
// counting nothing, without a monthly budget.
func countCall(tally *bucket.Tally) func() {
	if tally == nil {
		return nil
	}
	return func() { tally.Add(1) }
}

// models are what \model may switch to: MODELS, or MODEL alone.
func (s settings) models() []string {
	if len(s.Models) == 0 {
		return []string{s.Model}
	}
	return s.Models
}
