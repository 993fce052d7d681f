// Package dingtalktest is a fake DingTalk for tests, the end-to-end suite and
// the local terminal simulator. Its Server receives session-webhook posts the
// way oapi.dingtalk.com does (errcodes in an HTTP 200 included), records
// them, and builds signed callbacks whose sessionWebhook points back at it.
// It also serves the part of api.dingtalk.com's OpenAPI the robot uses: the
// access token, the robot's one-to-one and group sends, AI cards (create and
// deliver, streaming updates, updates for everyone), the download of message
// files, with a stand-in for the storage host that serves them, the badges
// of the emotion calls, and the registration of card callbacks; it sends
// signed presses of cards' buttons to the registered URL (Press).
// Its behaviour follows docs/protocols.md §1 to §7; where they are silent the
// choice is documented at the place it is made.
package dingtalktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/pipenet"
)

// WebhookPath is the path of DingTalk's session webhooks.
const WebhookPath = "/robot/sendBySession"

// MaxContentBytes is DingTalk's limit on a message's content.
const MaxContentBytes = 20000

// MarkdownRenderChars is about where DingTalk stops rendering a markdown
// message: it takes a longer one (errcode 0) and shows nothing
// (docs/protocols.md §7).
const MarkdownRenderChars = 3500

// ErrcodeMissingParameter answers a text or markdown message without its
// content. docs/protocols.md §3 does not list this case; 40035 is DingTalk's
// general "missing parameter" code, used here so that an empty answer is an
// error a test can see.
const ErrcodeMissingParameter = 40035

// maxRequestBytes bounds what the fake reads of a post.
const maxRequestBytes = 1 << 20

// ErrClosed is returned by WaitPosts once the server is closed.
var ErrClosed = errors.New("dingtalktest: server closed")

// Post is one message posted to a session webhook, as the fake received and
// answered it.
type Post struct {
	// Session is the session query value of the webhook URL posted to.
	Session string
	// Message is the decoded body; the zero value when the body was not a
	// webhook message.
	Message dingtalk.WebhookMessage
	// Raw is the body as received.
	Raw []byte
	// Errcode and Errmsg are what the fake answered; 0 and "ok" for a
	// message DingTalk took.
	Errcode int
	Errmsg  string
	// Blank is set for a markdown message DingTalk took but shows as
	// nothing: longer than MarkdownRenderChars characters.
	Blank bool
}

// Content is the text the user would see: the text of a text message or
// the markdown of a markdown one.
func (p Post) Content() string {
	switch {
	case p.Message.Text != nil:
		return p.Message.Text.Content
	case p.Message.Markdown != nil:
		return p.Message.Markdown.Text
	}
	return ""
}

// Server is a fake DingTalk on 127.0.0.1. It accepts every session (DingTalk
// cannot be asked which exist) until ExpireSession says otherwise. It also
// serves the robot's OpenAPI (see openapi.go) for the app set by SetApp.
type Server struct {
	httpServer *httptest.Server
	now        func() time.Time
	done       chan struct{} // closed by Close

	mu       sync.Mutex
	changed  *sync.Cond // broadcast on every post, on Close, and to wake a waiter whose context ended
	posts    []Post
	expired  map[string]bool
	sessions map[string]string // conversation id -> session
	failures int
	failCode int
	failMsg  string
	closed   bool
	// version counts the changes a user could see: posts and cards.
	version uint64
	// members maps the staff id of each sender a callback was built for to
	// the name DingTalk shows for it.
	members map[string]string
	// inMemory says the server listens on pipes (InMemory).
	inMemory bool
	// pressClient sends the presses (WithPressClient); nil for a client
	// of the default transport.
	pressClient *http.Client

	openAPI   openAPIState
	cards     cardState
	files     fileState
	reactions reactionState
	callbacks callbackState
}

// Option configures a Server.
type Option func(*Server)

// InMemory makes the server listen on connections made in memory
// (package pipenet) rather than on a loopback port, and its Client dial
// them: the same HTTP, on connections a testing/synctest bubble can wait
// on. A test in a bubble makes the server inside it, so that the server's
// goroutines are the bubble's, and reaches it only through Client.
func InMemory() Option {
	return func(s *Server) { s.inMemory = true }
}

// WithClock sets the clock the callback builders read createAt from; by
// default time.Now. A test of stale callbacks sets it in the past.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// NewServer starts a fake DingTalk. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		now:       time.Now,
		done:      make(chan struct{}),
		expired:   make(map[string]bool),
		sessions:  make(map[string]string),
		members:   make(map[string]string),
		version:   1, // 0 is WaitChange's "now"
		openAPI:   openAPIState{appKey: RobotCode, tokens: make(map[string]time.Time)},
		cards:     newCardState(),
		files:     newFileState(),
		reactions: newReactionState(),
		callbacks: newCallbackState(),
	}
	s.changed = sync.NewCond(&s.mu)
	for _, opt := range opts {
		opt(s)
	}
	// Each route names its method: the mux answers another method on a
	// known path with 405 and an Allow header, and an unknown path with 404.
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+WebhookPath, s.serveWebhook)
	mux.HandleFunc("POST "+dingtalk.AccessTokenPath, s.serveAccessToken)
	mux.HandleFunc("POST "+dingtalk.OToMessagesPath, s.serveRobotSend(OpenAPIOToMessages))
	mux.HandleFunc("POST "+dingtalk.GroupMessagesPath, s.serveRobotSend(OpenAPIGroupMessages))
	mux.HandleFunc("POST "+dingtalk.CardCreateAndDeliverPath, s.serveCreateAndDeliver)
	mux.HandleFunc("PUT "+dingtalk.CardStreamingPath, s.serveCardStreaming)
	mux.HandleFunc("POST "+dingtalk.MessageFilesDownloadPath, s.serveMessageFileDownload)
	mux.HandleFunc("GET "+FileURLPrefix, s.serveFile)
	mux.HandleFunc("POST "+dingtalk.EmotionReplyPath, s.serveEmotion(false))
	mux.HandleFunc("POST "+dingtalk.EmotionRecallPath, s.serveEmotion(true))
	mux.HandleFunc("POST "+dingtalk.CardCallbackRegisterPath, s.serveCardCallbackRegister)
	mux.HandleFunc("PUT "+dingtalk.CardInstancesPath, s.serveCardInstanceUpdate)
	// httptest listens on 127.0.0.1, never on every interface.
	s.httpServer = httptest.NewUnstartedServer(s.metering(mux))
	if s.inMemory {
		pipenet.Start(s.httpServer)
	} else {
		s.httpServer.Start()
	}
	return s
}

// Close stops the server and wakes every WaitPosts, WaitOpenAPIPosts,
// WaitCards, WaitChange and Subscribe. It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.changed.Broadcast()
	s.mu.Unlock()
	s.httpServer.Close()
}

// URL is the server's base URL, http://127.0.0.1:<port>.
func (s *Server) URL() string { return s.httpServer.URL }

// Host is the server's host name without the port, for a WebhookClient's
// allowed hosts.
func (s *Server) Host() string {
	u, err := url.Parse(s.httpServer.URL)
	if err != nil {
		// httptest builds the URL itself; it always parses.
		panic("dingtalktest: server URL does not parse: " + err.Error())
	}
	return u.Hostname()
}

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.httpServer.Client() }

// WebhookURL is the session webhook of a session on this server, shaped like
// DingTalk's https://oapi.dingtalk.com/robot/sendBySession?session=....
func (s *Server) WebhookURL(session string) string {
	return s.httpServer.URL + WebhookPath + "?" + url.Values{"session": {session}}.Encode()
}

// Session returns the session of a conversation, the same for every
// callback built for it, created on first use.
func (s *Server) Session(conversationID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	session, ok := s.sessions[conversationID]
	if !ok {
		session = newSession()
		s.sessions[conversationID] = session
	}
	return session
}

// ExpireSession makes every later post to the session fail with errcode
// 300001, as DingTalk does once sessionWebhookExpiredTime has passed.
func (s *Server) ExpireSession(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[session] = true
}

// FailNext makes the next n posts, to any session, fail with errcode and
// errmsg in an HTTP 200, before any other check.
func (s *Server) FailNext(n int, errcode int, errmsg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures, s.failCode, s.failMsg = n, errcode, errmsg
}

// Posts returns every post received so far, in order, failed ones included.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// WaitPosts waits until the session has received at least n successful
// posts (errcode 0) and returns all of them, in order. If ctx ends or the
// server closes first it returns the successful posts so far and an error.
func (s *Server) WaitPosts(ctx context.Context, session string, n int) ([]Post, error) {
	stop := context.AfterFunc(ctx, s.wake)
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		got := s.successfulLocked(session)
		switch {
		case len(got) >= n:
			return got, nil
		case ctx.Err() != nil:
			return got, fmt.Errorf("dingtalktest: %d of %d posts: %w", len(got), n, context.Cause(ctx))
		case s.closed:
			return got, fmt.Errorf("%w: %d of %d posts", ErrClosed, len(got), n)
		}
		s.changed.Wait()
	}
}

// Subscribe returns a channel that delivers every post received after the
// call, failed ones included, in order. The posts are taken from the
// server's record, so a slow reader never blocks or loses a post; the
// channel is closed when ctx ends or the server closes, and posts not yet
// received then are not delivered.
func (s *Server) Subscribe(ctx context.Context) <-chan Post {
	ch := make(chan Post)
	s.mu.Lock()
	next := len(s.posts)
	s.mu.Unlock()
	go func() {
		defer close(ch)
		stop := context.AfterFunc(ctx, s.wake)
		defer stop()
		for {
			p, ok := s.postAt(ctx, next)
			if !ok {
				return
			}
			select {
			case ch <- p:
				next++
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
	}()
	return ch
}

// postAt waits for the i-th post; false when ctx ends or the server closes.
func (s *Server) postAt(ctx context.Context, i int) (Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.posts) <= i {
		if ctx.Err() != nil || s.closed {
			return Post{}, false
		}
		s.changed.Wait()
	}
	return s.posts[i], true
}

// changedLocked records a change a user could see and wakes the waiters.
func (s *Server) changedLocked() {
	s.version++
	s.changed.Broadcast()
}

// WaitChange waits until something a user could see has changed since
// version (a post, OpenAPI message, card or card update was received) and
// returns the new version; 0 asks for the current one at once. It returns an
// error when ctx ends or the server closes first.
func (s *Server) WaitChange(ctx context.Context, version uint64) (uint64, error) {
	stop := context.AfterFunc(ctx, s.wake)
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for version != 0 && s.version <= version {
		switch {
		case ctx.Err() != nil:
			return s.version, context.Cause(ctx)
		case s.closed:
			return s.version, ErrClosed
		}
		s.changed.Wait()
	}
	return s.version, nil
}

// Shown is a post's content as DingTalk shows it: each "@<staffId>" of a
// member the message @-mentions reads "@<name>", the member's name.
// A "@<staffId>" the message does not list in atUserIds stays as it is, as
// it does in DingTalk (docs/protocols.md §3).
func (s *Server) Shown(p Post) string {
	content := p.Content()
	if p.Message.At == nil {
		return content
	}
	// Longer ids first, so that "@staff-10" is not read as "@staff-1"
	// followed by "0".
	ids := slices.Clone(p.Message.At.AtUserIDs)
	slices.SortFunc(ids, func(a, b string) int { return len(b) - len(a) })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if name, ok := s.members[id]; ok && id != "" {
			content = strings.ReplaceAll(content, "@"+id, "@"+name)
		}
	}
	return content
}

// wake lets waiters recheck their context. It takes the lock so that a
// waiter between its check and its Wait cannot miss the broadcast.
func (s *Server) wake() {
	s.mu.Lock()
	s.changed.Broadcast()
	s.mu.Unlock()
}

func (s *Server) successfulLocked(session string) []Post {
	var got []Post
	for _, p := range s.posts {
		if p.Session == session && p.Errcode == 0 {
			got = append(got, p)
		}
	}
	return got
}

func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	post := Post{Session: r.URL.Query().Get("session"), Raw: raw}
	decodeErr := json.Unmarshal(raw, &post.Message)
	if decodeErr != nil {
		post.Message = dingtalk.WebhookMessage{}
	}

	s.mu.Lock()
	post.Errcode, post.Errmsg = s.judgeLocked(post, decodeErr)
	post.Blank = post.Errcode == 0 && post.Message.Markdown != nil &&
		utf8.RuneCountInString(post.Message.Markdown.Text) > MarkdownRenderChars
	s.posts = append(s.posts, post)
	s.changedLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	// Like DingTalk: HTTP 200 whatever the errcode.
	json.NewEncoder(w).Encode(struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}{post.Errcode, post.Errmsg})
}

// judgeLocked decides DingTalk's answer to a post, in this order: an
// injected failure, an unknown or expired session, a body too large to
// read, a body that is not a message of a supported type, a missing or too
// long content.
func (s *Server) judgeLocked(p Post, decodeErr error) (int, string) {
	if s.failures > 0 {
		s.failures--
		return s.failCode, s.failMsg
	}
	if p.Session == "" || s.expired[p.Session] {
		return dingtalk.ErrcodeSessionNotFound, "session does not exist"
	}
	if len(p.Raw) > maxRequestBytes {
		return dingtalk.ErrcodeMessageTooLong, "message too long"
	}
	if decodeErr != nil {
		return dingtalk.ErrcodeUnsupportedType, "unsupported message type"
	}
	var content string
	switch p.Message.MsgType {
	case "text":
		if p.Message.Text == nil || p.Message.Text.Content == "" {
			return ErrcodeMissingParameter, "missing parameter text.content"
		}
		content = p.Message.Text.Content
	case "markdown":
		if p.Message.Markdown == nil || p.Message.Markdown.Text == "" || p.Message.Markdown.Title == "" {
			return ErrcodeMissingParameter, "missing parameter markdown.title or markdown.text"
		}
		content = p.Message.Markdown.Text
	case "link", "actionCard", "feedCard":
		// DingTalk sends these too; the robot does not, so the fake only
		// accepts them.
	default:
		return dingtalk.ErrcodeUnsupportedType, "unsupported message type"
	}
	if len(content) > MaxContentBytes {
		return dingtalk.ErrcodeMessageTooLong, "message too long"
	}
	return 0, "ok"
}
