package mcp

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sync/singleflight"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// Defaults of Config.
const (
	DefaultListFor        = 5 * time.Minute
	DefaultDownFor        = 30 * time.Second
	DefaultListTimeout    = 5 * time.Second
	DefaultCallTimeout    = 30 * time.Second
	DefaultMaxResultBytes = 16 << 10
)

// minSecret is the shortest header value hidden from text a server wrote.
const minSecret = 8

// minResultBytes keeps room for the note that says a result was cut.
const minResultBytes = 1 << 10

// Config configures a Client; the zero value of each field but Servers
// takes its default.
type Config struct {
	Servers []Server
	// HTTPClient carries the requests (its Transport and Timeout are
	// kept; each server's headers are added on top). Default: a client of
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Now tells the time for the tool lists kept; default time.Now.
	Now func() time.Time
	// ListFor is how long a server's tool list is kept per instance, and
	// how long one session with it is used, before they are renewed.
	ListFor time.Duration
	// DownFor is how long a server whose listing failed is taken as down
	// (not asked again) before the next try.
	DownFor time.Duration
	// ListTimeout bounds one server's listing, connection included.
	ListTimeout time.Duration
	// CallTimeout bounds one tool call, connection included.
	CallTimeout time.Duration
	// MaxResultBytes bounds the text of a call's result (at least 1 KiB).
	MaxResultBytes int
	// Logger receives what went wrong, never a header value; default none.
	Logger *slog.Logger
}

// Client lists and calls the tools of remote MCP servers. It is safe for
// concurrent use; Close it when done.
type Client struct {
	cfg     Config
	log     *slog.Logger
	remotes []*remote
	// closing counts the sessions being closed in the background;
	// closingMu keeps an Add from racing Close's Wait.
	closingMu sync.Mutex
	closing   sync.WaitGroup
}

// remote is one server: its session, its latest tool list.
type remote struct {
	c       *Client
	cfg     Server
	host    string
	sdk     *sdk.Client
	http    *http.Client
	secrets []string // header values and the URL, kept out of text
	allowed map[string]bool
	trusted map[string]bool
	// confirmed are the tools of Confirm.
	confirmed map[string]bool
	listing   singleflight.Group
	connect   chan struct{} // held while a session is being made
	invalid   string        // why the server is never asked, if it is not

	mu      sync.Mutex
	closed  bool
	session *session
	list    *listing // latest outcome, kept ListFor or DownFor
	offered map[string]Tool
}

// listing is the outcome of listing a server's tools.
type listing struct {
	at    time.Time
	tools []Tool // offered, in order
	down  string // why the listing failed; empty when it did not
}

// New makes a Client of cfg.Servers, which ParseServers has checked. It
// connects to nothing until asked.
func New(cfg Config) *Client {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ListFor <= 0 {
		cfg.ListFor = DefaultListFor
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = DefaultDownFor
	}
	if cfg.ListTimeout <= 0 {
		cfg.ListTimeout = DefaultListTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	cfg.MaxResultBytes = max(cfg.MaxResultBytes, minResultBytes)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log}
	// One SDK client for all: it holds no connection. No capabilities:
	// the robot offers a server no roots, sampling or elicitation.
	client := sdk.NewClient(&sdk.Implementation{Name: "fcrobot", Version: "1"},
		&sdk.ClientOptions{Capabilities: &sdk.ClientCapabilities{}})
	for _, s := range cfg.Servers {
		c.remotes = append(c.remotes, c.newRemote(s, client))
	}
	return c
}

func (c *Client) newRemote(s Server, client *sdk.Client) *remote {
	u, err := url.Parse(s.URL)
	if err != nil {
		u = &url.URL{} // ParseServers refuses it; every request then fails
	}
	base := &http.Client{}
	if c.cfg.HTTPClient != nil {
		*base = *c.cfg.HTTPClient
	}
	base.Transport = newHeaderTransport(base.Transport, u, s.Headers)
	r := &remote{
		c:       c,
		cfg:     s,
		host:    u.Host,
		sdk:     client,
		http:    base,
		connect: make(chan struct{}, 1),
	}
	// A server ParseServers did not check (a test's, a caller's) with a
	// name that would make model names break the rule, or a URL that is
	// not http(s), is never asked.
	if err := errors.Join(checkName(s.Name), checkURL(s.URL)); err != nil {
		r.invalid = "its configuration is invalid: " + err.Error()
	}
	r.secrets = append(r.secrets, s.URL, u.String())
	for _, v := range s.Headers {
		// A short value (a tenant's number) is no secret, and hiding it
		// would garble the text around it.
		if len(v) >= minSecret {
			r.secrets = append(r.secrets, v)
		}
	}
	r.secrets = redact.WithDecoded(r.secrets...)
	// Longest first: a secret that holds another goes before it.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	if s.Tools != nil {
		r.allowed = make(map[string]bool, len(s.Tools))
		for _, name := range s.Tools {
			r.allowed[name] = true
		}
	}
	r.trusted = make(map[string]bool, len(s.Trust))
	for _, name := range s.Trust {
		r.trusted[name] = true
	}
	r.confirmed = make(map[string]bool, len(s.Confirm))
	for _, name := range s.Confirm {
		r.confirmed[name] = true
	}
	return r
}

// Close ends every session that is not in use (one in use ends when its
// operation does) and waits for them to end; later calls fail.
func (c *Client) Close() error {
	for _, r := range c.remotes {
		r.mu.Lock()
		r.closed = true
		s := r.session
		r.session = nil
		closeNow := s != nil && s.retire()
		r.mu.Unlock()
		if closeNow {
			c.closeSession(s)
		}
	}
	c.closingMu.Lock()
	c.closing.Wait()
	c.closingMu.Unlock()
	return nil
}
