package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Bounds of what a server lists: a tool list costs the model tokens on
// every request, and the OpenAI-compatible APIs take at most 128 tools.
const (
	maxPages          = 20   // pages of tools/list followed
	maxListed         = 1000 // tools read from one server
	maxOfferedServer  = 64   // tools offered of one server
	maxOffered        = 100  // tools offered of all servers
	maxDescription    = 1024 // bytes of a tool's description
	maxSchemaBytes    = 16 << 10
	maxSchemaDepth    = 32
	maxToolNameListed = 256 // bytes of a tool's own name
)

// Tool is a tool of an MCP server as the model is offered it.
type Tool struct {
	// Tool is what the model sees: Name is <server>__<tool>, within
	// ^[a-zA-Z0-9_-]{1,64}$ and unique across servers.
	chat.Tool
	// Server is the name of the server in MCP_SERVERS.
	Server string
	// Original is the tool's own name on the server.
	Original string
	// ReadOnly is the server's word that the tool changes nothing
	// (readOnlyHint); a tool offered without it is trusted by the
	// operator, or listed in confirm.
	ReadOnly bool
	// Confirm: each call waits for a person to allow it (the server's
	// confirm list).
	Confirm bool
}

// Label names the tool for a person: server.tool (e.g. in
// "🔧 正在使用 docs.search…").
func (t Tool) Label() string { return t.Server + "." + clip(t.Original) }

// Unavailable is a server whose tools cannot be offered now, and why.
type Unavailable struct {
	Server string
	// Reason is a few words that can be told to the model ("it did not
	// answer within 5s"); it never holds a header value or the URL.
	Reason string
}

// String tells the model: `MCP server "docs" is unavailable: …`.
func (u Unavailable) String() string {
	return fmt.Sprintf("MCP server %q is unavailable: %s", u.Server, u.Reason)
}

// Tools returns the tools the model may be offered, from every server in
// order, each listed at most ListTimeout (in parallel) and kept ListFor;
// and the servers that are down, slow, refuse or answer garbage, each kept
// as such DownFor. Only tools the operator allowed (tools) that may run
// without asking (read-only, or in trust) are offered, in the order of
// their names: the same tools give the same request (which providers'
// prompt caches like). The tools' Parameters are shared: do not modify
// them.
func (c *Client) Tools(ctx context.Context) (tools []Tool, down []Unavailable) {
	if c == nil || len(c.remotes) == 0 {
		return nil, nil
	}
	lists := make([]*listing, len(c.remotes))
	var wg sync.WaitGroup
	for i, r := range c.remotes {
		wg.Go(func() { lists[i] = r.tools(ctx) })
	}
	wg.Wait()
	for i, l := range lists {
		name := c.remotes[i].cfg.Name
		if l.down != "" {
			down = append(down, Unavailable{Server: name, Reason: l.down})
			continue
		}
		if room := maxOffered - len(tools); len(l.tools) > room {
			c.log.Warn("mcp: too many tools; some are not offered", "server", name, "offered", room, "listed", len(l.tools), "max", maxOffered)
			tools = append(tools, l.tools[:room]...)
			continue
		}
		tools = append(tools, l.tools...)
	}
	return tools, down
}

// Lookup finds a tool by the name the model calls it, among the tools
// of each server's latest listing that worked.
func (c *Client) Lookup(name string) (Tool, bool) {
	t, _, ok := c.lookup(name)
	return t, ok
}

func (c *Client) lookup(name string) (Tool, *remote, bool) {
	if c == nil {
		return Tool{}, nil, false
	}
	server, _, ok := strings.Cut(name, "__")
	if !ok {
		return Tool{}, nil, false
	}
	for _, r := range c.remotes {
		if r.cfg.Name != server {
			continue
		}
		r.mu.Lock()
		t, ok := r.offered[name]
		r.mu.Unlock()
		return t, r, ok
	}
	return Tool{}, nil, false
}

// tools returns the server's listing: the one kept, or a new one. Callers
// at once share one listing, which goes on (within ListTimeout) if the
// caller that started it gives up, so that the next finds it done.
func (r *remote) tools(ctx context.Context) *listing {
	if r.invalid != "" {
		return &listing{down: r.invalid}
	}
	if l := r.kept(); l != nil {
		return l
	}
	ch := r.listing.DoChan("", func() (any, error) {
		if l := r.kept(); l != nil {
			return l, nil
		}
		return r.refresh(context.WithoutCancel(ctx)), nil
	})
	select {
	case res := <-ch:
		return res.Val.(*listing)
	case <-ctx.Done():
		return &listing{down: "the question ended before it answered"}
	}
}

// kept returns the latest listing while it may be used.
func (r *remote) kept() *listing {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.list
	if l == nil {
		return nil
	}
	keep := r.c.cfg.ListFor
	if l.down != "" {
		keep = r.c.cfg.DownFor
	}
	if r.c.cfg.Now().Sub(l.at) >= keep {
		return nil
	}
	return l
}

// refresh lists the server's tools and keeps the outcome.
func (r *remote) refresh(ctx context.Context) *listing {
	limit := r.c.cfg.ListTimeout
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	listed, x, err := r.fetch(ctx)
	l := &listing{at: r.c.cfg.Now()}
	if errors.Is(err, ErrClosed) {
		l.down = "the robot is shutting down"
	} else if err != nil {
		l.down = r.reason(err, x, limit)
		r.c.log.Warn("mcp: cannot list the tools of a server", "server", r.cfg.Name, "host", r.host,
			"reason", l.down, "error", r.scrub(err.Error()))
	} else {
		l.tools = r.offer(listed)
		r.c.log.Info("mcp: listed the tools of a server", "server", r.cfg.Name, "listed", len(listed), "offered", len(l.tools))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = l
	if l.down == "" {
		r.offered = make(map[string]Tool, len(l.tools))
		for _, t := range l.tools {
			r.offered[t.Name] = t
		}
	}
	return l
}

// fetch lists every tool of the server, following pages. Listing changes
// nothing, so a failure is tried once more, on a new session, when it may
// be passing: a kept session that fails (it may have gone stale while the
// instance slept), or a request that got no answer at all (a connection
// the server closed while the instance slept).
func (r *remote) fetch(ctx context.Context) ([]*sdk.Tool, *exchange, error) {
	for attempt := 0; ; attempt++ {
		ctx, x := withExchange(ctx)
		s, fresh, err := r.acquire(ctx)
		if err == nil {
			var tools []*sdk.Tool
			tools, err = r.listAll(ctx, s.cs)
			r.release(s, err)
			if err == nil {
				return tools, x, nil
			}
		}
		again := !fresh && s != nil || x.unanswered()
		if attempt > 0 || !again || !passing(ctx, err) {
			return nil, x, err
		}
	}
}

// passing reports whether err may be gone on a second try: it is not the
// server's own answer, nor the end of the caller's time, nor a closed
// client.
func passing(ctx context.Context, err error) bool {
	return ctx.Err() == nil && serverError(err) == nil && !errors.Is(err, ErrClosed) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

func (r *remote) listAll(ctx context.Context, cs *sdk.ClientSession) ([]*sdk.Tool, error) {
	var all []*sdk.Tool
	seen := make(map[string]bool)
	cursor := ""
	for page := 1; ; page++ {
		res, err := cs.ListTools(ctx, &sdk.ListToolsParams{Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, res.Tools...)
		if res.NextCursor == "" {
			return all, nil
		}
		if page == maxPages || len(all) >= maxListed || seen[res.NextCursor] {
			r.c.log.Warn("mcp: a server lists too many tools; the rest are not read", "server", r.cfg.Name, "pages", page, "tools", len(all))
			return all[:min(len(all), maxListed)], nil
		}
		seen[res.NextCursor] = true
		cursor = res.NextCursor
	}
}

// offer picks the tools the model may be offered, in the order of their
// names, and names them for the model.
func (r *remote) offer(listed []*sdk.Tool) []Tool {
	byName := make(map[string]*sdk.Tool, len(listed))
	for _, t := range listed {
		if t == nil || t.Name == "" || len(t.Name) > maxToolNameListed {
			continue
		}
		if _, dup := byName[t.Name]; !dup {
			byName[t.Name] = t
		}
	}
	r.warnMissing(byName)
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)

	var picked []Tool
	for _, name := range names {
		t := byName[name]
		if r.allowed != nil && !r.allowed[name] {
			continue
		}
		readOnly := t.Annotations != nil && t.Annotations.ReadOnlyHint
		// The operator's confirm outweighs the server's word: a tool to
		// confirm waits for a person, read-only or not.
		confirm := !r.trusted[name] && r.confirmed[name]
		if confirm {
			readOnly = false
		}
		if !readOnly && !r.trusted[name] && !confirm {
			log := r.c.log.Debug
			if r.allowed != nil {
				log = r.c.log.Warn // the operator asked for it by name
			}
			log("mcp: a tool is not offered: the server does not mark it read-only and trust does not name it",
				"server", r.cfg.Name, "tool", clip(name))
			continue
		}
		params, err := parameters(t.InputSchema)
		if err != nil {
			r.c.log.Warn("mcp: a tool is not offered: its input schema is unusable", "server", r.cfg.Name, "tool", clip(name), "why", err.Error())
			continue
		}
		if len(picked) == maxOfferedServer {
			r.c.log.Warn("mcp: a server offers too many tools; the rest are left out", "server", r.cfg.Name, "max", maxOfferedServer)
			break
		}
		picked = append(picked, Tool{
			Tool:     chat.Tool{Description: description(r.cfg.Name, t), Parameters: params},
			Server:   r.cfg.Name,
			Original: name,
			ReadOnly: readOnly,
			Confirm:  confirm,
		})
	}
	originals := make([]string, len(picked))
	for i, t := range picked {
		originals[i] = t.Original
	}
	for i, name := range modelNames(r.cfg.Name, originals) {
		picked[i].Name = name
	}
	return picked
}

// warnMissing tells the operator of names in tools or trust that the
// server does not list (a typo offers nothing, silently otherwise).
func (r *remote) warnMissing(listed map[string]*sdk.Tool) {
	for _, list := range []struct {
		field string
		names []string
	}{{"tools", r.cfg.Tools}, {"trust", r.cfg.Trust}, {"confirm", r.cfg.Confirm}} {
		for _, name := range list.names {
			if listed[name] == nil {
				r.c.log.Warn("mcp: MCP_SERVERS names a tool the server does not list", "server", r.cfg.Name, "field", list.field, "tool", clip(name))
			}
		}
	}
}

// description is the tool's description for the model, bounded.
func description(server string, t *sdk.Tool) string {
	d := strings.TrimSpace(t.Description)
	if d == "" {
		d = strings.TrimSpace(t.Title)
	}
	if d == "" && t.Annotations != nil {
		d = strings.TrimSpace(t.Annotations.Title)
	}
	if d == "" {
		d = fmt.Sprintf("Tool %s of MCP server %s.", clip(t.Name), server)
	}
	if len(d) > maxDescription {
		d = cut(d, maxDescription-len("…")) + "…"
	}
	return d
}

// parameters checks a tool's input schema, as the SDK decoded it, and
// returns it as JSON: an object schema of bounded size and depth.
func parameters(schema any) (json.RawMessage, error) {
	m, ok := schema.(map[string]any)
	if !ok {
		return nil, errors.New("it is not a JSON object")
	}
	if m["type"] != "object" {
		return nil, errors.New(`its type is not "object"`)
	}
	if depth(m, 0) > maxSchemaDepth {
		return nil, fmt.Errorf("it is nested more than %d deep", maxSchemaDepth)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("it cannot be written as JSON: %v", err)
	}
	if len(b) > maxSchemaBytes {
		return nil, fmt.Errorf("it is %d bytes long, more than %d", len(b), maxSchemaBytes)
	}
	return b, nil
}

// depth is how deep v nests, stopping once past maxSchemaDepth.
func depth(v any, d int) int {
	if d > maxSchemaDepth {
		return d
	}
	deepest := d
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, depth(e, d+1))
		}
	case []any:
		for _, e := range v {
			deepest = max(deepest, depth(e, d+1))
		}
	}
	return deepest
}
