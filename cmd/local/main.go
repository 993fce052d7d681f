// Command local runs the whole robot on this machine and lets you talk to it
// in the terminal as a DingTalk user would: both functions as real programs,
// a local FC endpoint between them, a folder as the OSS mount, and a
// DingTalk simulator that signs your messages and shows the robot's answers.
//
// The model is whatever OpenAI-compatible endpoint ENDPOINT names (with
// CHATGPT_API_KEY or USER_API_KEY, MODEL, ...), or, with none, a built-in
// offline model that says it is offline.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "local: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	bin := flags.String("bin", ".local/bin", "folder holding the built conversation and reply programs")
	data := flags.String("data", ".local/oss", "folder that stands for the OSS mount (every store: history, receipts, settings, ...)")
	logDir := flags.String("logs", ".local/logs", "folder for the functions' logs")
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	for _, d := range []string{*data, *logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logPath := filepath.Join(*logDir, "functions.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	// The reply function's variables a user may set for a local run, to
	// talk to a real model.
	replyEnv := map[string]string{}
	for _, k := range []string{"ENDPOINT", "CHATGPT_API_KEY", "USER_API_KEY", "MODEL", "TEMPERATURE",
		"SYSTEM_PROMPT", "HISTORY_LENGTH", "TIMEOUT", "VERBOSE", "MARKDOWN_MAX_CHARS",
		"CARD_TEMPLATE_ID", "CARD_CONTENT_KEY", "CARD_UPDATE_INTERVAL", "CARD_MAX_CHARS", "CARD_MAX_UPDATES",
		"DINGTALK_MONTHLY_API_CALLS", "WEB_SEARCH", "SEARCH_API_KEY", "SEARCH_ENDPOINT", "SEARCH_MODE",
		"MCP_SERVERS", "MAX_TOOL_ROUNDS", "CONFIRM_WAIT", "ADMIN_USERS"} {
		if v := getenv(k); v != "" {
			replyEnv[k] = v
		}
	}
	// A real DingTalk robot reached through a tunnel posts its answers to
	// DingTalk's own webhook host, so allow it beside the simulator's.
	replyEnv["SESSION_WEBHOOK_HOSTS"] = "127.0.0.1,oapi.dingtalk.com"
	convEnv := map[string]string{}
	if v := getenv("VERBOSE"); v != "" {
		convEnv["VERBOSE"] = v
	}
	if v := getenv("DINGTALK_APP_SECRET"); v != "" {
		convEnv["DINGTALK_APP_SECRET"] = v
	}

	// With CARD_TEMPLATE_ID the simulator knows that template, and the
	// robot an app to create its cards with: answers stream into AI cards,
	// with buttons (/press).
	cardTemplate, cardKey := replyEnv["CARD_TEMPLATE_ID"], replyEnv["CARD_CONTENT_KEY"]
	if cardKey == "" {
		cardKey = defaultCardKey
	}

	// Unless the user names MCP servers of their own, the model gets the
	// tools of a small MCP server started here, which the offline model
	// uses when a question asks to look something up.
	tools := "MCP_SERVERS 中的服务器"
	if replyEnv["MCP_SERVERS"] == "" {
		docs, err := startDocsServer()
		if err != nil {
			return err
		}
		defer docs.Close()
		replyEnv["MCP_SERVERS"] = fmt.Sprintf(`[{"name":"docs","url":%q}]`, docs.URL)
		tools = "本地示例 MCP 服务器 docs（search_docs）；试试问「帮我查一下 部署」"
		if cardTemplate != "" {
			// Its create_ticket then runs once allowed on the card: the
			// offline model calls it when a question names it.
			replyEnv["MCP_SERVERS"] = fmt.Sprintf(`[{"name":"docs","url":%q,"confirm":["create_ticket"]}]`, docs.URL)
			tools = "本地示例 MCP 服务器 docs（search_docs；create_ticket 要在卡片上点「允许」）；" +
				"试试问「帮我查一下 部署」或「用 docs__create_ticket 建个工单」"
		}
	}

	fmt.Fprintln(stdout, "正在启动：reply 函数、conversation 函数、本地 FC、钉钉模拟器 …")
	st, err := devstack.Start(ctx, devstack.Config{
		BinDir: *bin, DataDir: *data, ReplyEnv: replyEnv, ConversationEnv: convEnv, Logs: logFile,
		Logger:      slog.New(slog.NewJSONHandler(logFile, nil)),
		Model:       streamedSlowly(openaitest.Offline()),
		DingTalkApp: cardTemplate != "",
		CardButtons: cardTemplate != "",
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "正在停止 …")
		if err := st.Close(); err != nil {
			fmt.Fprintf(stderr, "local: %v\n", err)
		}
	}()
	if v := getenv("DINGTALK_APP_SECRET"); v != "" {
		st.AppSecret = v
	}
	answers := "消息"
	if cardTemplate != "" {
		st.DingTalk.AddCardTemplate(cardTemplate, cardKey)
		answers = "AI 卡片（模板 " + cardTemplate + "）"
	}

	model := "内置离线模型（设置 ENDPOINT 等变量可接入真实模型）"
	if e := replyEnv["ENDPOINT"]; e != "" {
		model = e
		if m := replyEnv["MODEL"]; m != "" {
			model += "，模型 " + m
		}
	}
	fmt.Fprintf(stdout, `
conversation 函数：%s （监听所有网卡，端口 %s；可用内网穿透让真实钉钉机器人回调到这里）
reply 函数：      %s
本地 FC：         %s
模型：            %s
回答方式：        %s（设置 CARD_TEMPLATE_ID 可看 AI 卡片）
工具：            %s（\tools 列出）
历史记录目录：    %s
函数日志：        %s

`, st.Conversation.URL, port(st.Conversation.URL), st.Reply.URL, st.FCURL(), model, answers, tools, *data, logPath)

	sim := &simulator{st: st, out: stdout, cardKey: cardKey, terminal: isTerminal(stdout), who: "张三", group: false,
		buttons: cardTemplate != "", now: time.Now}
	return sim.loop(ctx, stdin)
}

func port(u string) string { return u[strings.LastIndex(u, ":")+1:] }

// defaultCardKey is CARD_CONTENT_KEY's default in the reply function.
const defaultCardKey = "content"

// streamedSlowly streams a responder's answers a few characters at a time,
// about as fast as a model writes, so that a card is seen growing.
func streamedSlowly(r openaitest.Responder) openaitest.Responder {
	return func(ctx context.Context, req openaitest.Request) openaitest.Response {
		resp := r(ctx, req)
		resp.ChunkDelay = 30 * time.Millisecond
		return resp
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// simulator is the DingTalk side of the terminal: who is typing, where.
type simulator struct {
	st  *devstack.Stack
	out io.Writer
	// cardKey is the card variable of the answer; terminal is set when out
	// is a terminal (see screen).
	cardKey  string
	terminal bool
	who      string
	group    bool
	// buttons is set when the cards have buttons (CARD_TEMPLATE_ID).
	buttons bool
	now     func() time.Time

	// lines are what the user types, line by line; held is a line typed
	// while the robot was answering, to be taken next.
	lines <-chan string
	held  string
}

// staffID is the current user's staffId, which DingTalk gives as who sent
// a message and who pressed a button.
func (s *simulator) staffID() string { return "staff-" + s.who }

const simHelp = `输入消息发给机器人；机器人的命令：\clear 清除历史，\help 帮助。
模拟器命令：
  /single        切换到与机器人的单聊
  /group         切换到群聊（消息以 @机器人 的形式发送）
  /user 名字     换一个发送者
  /press 按钮    按下最近一张 AI 卡片上的按钮（需设置 CARD_TEMPLATE_ID）：stop 停止、like 👍、
                 dislike 👎、approve 允许、deny 拒绝；机器人回答时也可以输入，卡片一出现那个按钮就按下
  /quit          退出（也可按 Ctrl-D）
`

func (s *simulator) prompt() {
	where := "单聊"
	if s.group {
		where = "群聊「测试群」"
	}
	fmt.Fprintf(s.out, "[%s · %s] > ", where, s.who)
}

func (s *simulator) loop(ctx context.Context, stdin io.Reader) error {
	fmt.Fprint(s.out, simHelp)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	s.lines = lines
	for {
		s.prompt()
		line, ok := s.next(ctx)
		if !ok {
			fmt.Fprintln(s.out)
			return nil
		}
		if action, ok := pressAction(line); ok {
			s.pressNow(ctx, action)
			continue
		}
		switch {
		case line == "":
			continue
		case line == "/quit" || line == "/exit":
			return nil
		case line == "/single":
			s.group = false
			continue
		case line == "/group":
			s.group = true
			continue
		case strings.HasPrefix(line, "/user"):
			if name := strings.TrimSpace(strings.TrimPrefix(line, "/user")); name != "" {
				s.who = name
			}
			continue
		case line == "/help":
			fmt.Fprint(s.out, simHelp)
			continue
		}
		s.say(ctx, line)
	}
}

// next is the next line the user typed: the one held while the robot
// answered, else the next one; ok is false once there is none (Ctrl-D, or
// ctx ended).
func (s *simulator) next(ctx context.Context) (line string, ok bool) {
	if s.held != "" {
		line, s.held = s.held, ""
		return line, true
	}
	select {
	case <-ctx.Done():
		return "", false
	case l, ok := <-s.lines:
		return strings.TrimSpace(l), ok
	}
}

// say sends one message as the current user and prints what DingTalk then
// shows, as it shows it, until the robot's work for the message is over
// (FC's deliveries of it, retries included, have ended).
func (s *simulator) say(ctx context.Context, text string) {
	conv := dingtalktest.Conversation{ID: "local-single-" + s.who}
	if s.group {
		conv = dingtalktest.Conversation{ID: "local-group", Group: true, Title: "测试群"}
		// In a group DingTalk strips the @机器人 mention but keeps its space.
		text = " " + text
	}
	from := dingtalktest.Sender{ID: "local-user-" + s.who, StaffID: "staff-" + s.who, Nick: s.who}
	scr := newScreen(s.out, s.st.DingTalk, s.cardKey, s.terminal, time.Now)

	cb := s.st.DingTalk.TextCallback(conv, from, text)
	resp, err := s.st.Deliver(ctx, cb.Body, time.Now())
	if err != nil {
		fmt.Fprintf(s.out, "  ✗ 回调失败：%v\n", err)
		return
	}
	if resp.Status != 200 {
		fmt.Fprintf(s.out, "  ✗ conversation 函数回答 %d：%s\n", resp.Status, strings.TrimSpace(resp.Body))
		return
	}
	fmt.Fprintf(s.out, "  ✓ conversation 函数已在 %s 内应答钉钉，等待机器人回复 …\n", scr.elapsed())
	if !s.watch(ctx, scr, s.lines) && scr.shown == 0 && ctx.Err() == nil {
		fmt.Fprintf(s.out, "  ✗ 机器人没有回复；详情见函数日志。\n")
	}
}

// watch prints what DingTalk shows, as it shows it, until the robot's work
// is over: FC has no delivery left, those of the presses made meanwhile
// included, or two minutes have passed (then it says so and returns
// false). It reads what the user types meanwhile from lines, when not nil:
// a /press is pressed as soon as the answer's card shows that button (or
// said to be impossible at the end); any other line is held for after.
func (s *simulator) watch(ctx context.Context, scr *screen, lines <-chan string) bool {
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var armed []button
	for s.watchRound(waitCtx, scr, lines, &armed) && waitCtx.Err() == nil {
		// A press was made: FC has its delivery now, and the watch goes
		// on until that is over too.
	}
	scr.update() // what changed as the watch ended
	scr.end()
	for _, b := range armed {
		fmt.Fprintf(s.out, "  ✗ 卡片上没有出现「%s」按钮，没有按。\n", b.name)
	}
	if waitCtx.Err() != nil && ctx.Err() == nil {
		fmt.Fprintf(s.out, "  ✗ 两分钟内机器人没有答完；详情见函数日志。\n")
		return false
	}
	return true
}

// watchRound watches until FC has no delivery left, and reports whether
// it pressed a button meanwhile.
func (s *simulator) watchRound(ctx context.Context, scr *screen, lines <-chan string, armed *[]button) (pressed bool) {
	roundCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		s.st.FC.Wait(roundCtx)
		stop()
	}()
	changes := make(chan struct{}, 1)
	go func() {
		defer close(changes)
		for version := uint64(0); ; {
			var err error
			if version, err = s.st.DingTalk.WaitChange(roundCtx, version); err != nil {
				return
			}
			select {
			case changes <- struct{}{}:
			default: // one is waiting already
			}
		}
	}()
	if s.held != "" {
		lines = nil // a line is held: the next ones wait behind it
	}
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				return pressed
			}
			scr.update()
		case l, ok := <-lines:
			line := strings.TrimSpace(l)
			action, isPress := pressAction(line)
			switch {
			case !ok:
				lines = nil // Ctrl-D: the loop ends after this answer
			case !isPress:
				if line != "" {
					s.held, lines = line, nil
				}
			case !s.buttons:
				scr.note("  ✗ 只有 AI 卡片才有按钮：设置 CARD_TEMPLATE_ID 后再试。\n")
			default:
				if b, known := buttonOf(action); known {
					*armed = append(*armed, b)
				} else {
					scr.note("  ✗ 没有这个按钮；可按的有：stop、like、dislike、approve、deny。\n")
				}
			}
		}
		if s.pressArmed(ctx, scr, armed) {
			pressed = true
		}
	}
}
