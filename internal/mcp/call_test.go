package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
)

// docsClient is a client of one mcptest server named docs, its tools
// listed; trust names tools it trusts.
func docsClient(t *testing.T, server http.Handler, cfg mcp.Config, trust ...string) *mcp.Client {
	t.Helper()
	cfg.Servers = []mcp.Server{{Name: "docs", URL: serve(t, server), Trust: trust}}
	client, _ := newClient(t, cfg)
	if _, down := client.Tools(context.Background()); len(down) != 0 {
		t.Fatalf("down: %v", down)
	}
	return client
}

func TestCallReturnsTheToolsText(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		t.Run(fmt.Sprintf("stateless=%v", stateless), func(t *testing.T) {
			var opts []mcptest.Option
			if stateless {
				opts = append(opts, mcptest.Stateless())
			}
			server := mcptest.NewServer(opts...)
			client := docsClient(t, server, mcp.Config{}, mcptest.CreateTicket)
			got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "部署"}`)
			if err != nil || got != mcptest.SearchDocsResult("部署") {
				t.Errorf("search_docs = %q, %v", got, err)
			}
			got, err = client.Call(context.Background(), "docs__create_ticket", `{"title": "打印机坏了"}`)
			if err != nil || got != "已创建工单 #1001：打印机坏了" {
				t.Errorf("create_ticket = %q, %v", got, err)
			}
			if a, b := server.Calls(mcptest.SearchDocs), server.Calls(mcptest.CreateTicket); a != 1 || b != 1 {
				t.Errorf("calls: search_docs %d, create_ticket %d; want one each", a, b)
			}
		})
	}
}

// addTool adds a read-only tool that answers result.
func addTool(server *mcptest.Server, name string, result *sdk.CallToolResult) {
	server.AddTool(&sdk.Tool{Name: name, InputSchema: objectSchema, Annotations: readOnly},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) { return result, nil })
}

func TestCallWritesEachKindOfResult(t *testing.T) {
	server := mcptest.NewServer()
	size := int64(2048)
	results := map[string]*sdk.CallToolResult{
		"failing":          {IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "disk full"}}},
		"failing_silently": {IsError: true},
		"two_texts":        {Content: []sdk.Content{&sdk.TextContent{Text: "one"}, &sdk.TextContent{Text: "two"}}},
		"image":            {Content: []sdk.Content{&sdk.TextContent{Text: "a chart:"}, &sdk.ImageContent{MIMEType: "image/png", Data: make([]byte, 300)}}},
		"audio":            {Content: []sdk.Content{&sdk.AudioContent{MIMEType: "audio/wav", Data: make([]byte, 10)}}},
		"link":             {Content: []sdk.Content{&sdk.ResourceLink{URI: "file:///report.pdf", Name: "report", Size: &size}}},
		"resource":         {Content: []sdk.Content{&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "docs://a", Text: "the text of a"}}}},
		"blob":             {Content: []sdk.Content{&sdk.EmbeddedResource{Resource: &sdk.ResourceContents{URI: "docs://b", MIMEType: "application/pdf", Blob: make([]byte, 5)}}}},
		"structured":       {StructuredContent: map[string]any{"temperature": 21, "city": "杭州"}, Content: []sdk.Content{}},
		"structured_text":  {StructuredContent: map[string]any{"n": 1}, Content: []sdk.Content{&sdk.TextContent{Text: `{"n":1}`}}},
		"nothing":          {Content: []sdk.Content{}},
	}
	want := map[string]string{
		"failing":          "tool error: disk full",
		"failing_silently": "tool error: the tool failed and said nothing more",
		"two_texts":        "one\n\ntwo",
		"image":            "a chart:\n\n[image omitted: image/png, 300 bytes]",
		"audio":            "[audio omitted: audio/wav, 10 bytes]",
		"link":             "[link to a resource: report file:///report.pdf]",
		"resource":         "[resource docs://a]\nthe text of a",
		"blob":             "[binary resource omitted: docs://b, application/pdf, 5 bytes]",
		"structured":       `{"city":"杭州","temperature":21}`,
		"structured_text":  `{"n":1}`,
		"nothing":          "(the tool returned nothing)",
	}
	for name, result := range results {
		addTool(server, name, result)
	}
	client := docsClient(t, server, mcp.Config{})
	for name, w := range want {
		got, err := client.Call(context.Background(), "docs__"+name, "{}")
		if err != nil || got != w {
			t.Errorf("%s = %q, %v; want %q", name, got, err, w)
		}
	}
}

// A result longer than MaxResultBytes is cut on a character, with a note
// that says so and how long it was.
func TestCallCutsAHugeResult(t *testing.T) {
	server := mcptest.NewServer()
	huge := strings.Repeat("结果a", 20000) // 140000 bytes; 3-byte runes
	addTool(server, "huge", textResult(huge))
	client := docsClient(t, server, mcp.Config{MaxResultBytes: 4000})
	got, err := client.Call(context.Background(), "docs__huge", "{}")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 4000 || !utf8.ValidString(got) {
		t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	body, note, ok := strings.Cut(got, "\n\n[cut: ")
	if !ok || !strings.HasPrefix(huge, body) || len(body) < 3500 {
		t.Fatalf("not the start of the result and a note: %q…", got[:40])
	}
	if want := fmt.Sprintf("the result was 140000 bytes long; only the first %d are shown]", len(body)); note != want {
		t.Errorf("note %q, want %q", note, want)
	}
}

func TestCallRefusesArgumentsThatAreNotAnObject(t *testing.T) {
	server := mcptest.NewServer()
	addTool(server, "ping", textResult("pong"))
	client := docsClient(t, server, mcp.Config{})
	for _, args := range []string{`[1]`, `"x"`, `{"query": `, `null`, `42`, `true`, `{"query": "x"} {}`,
		`{"q": "` + strings.Repeat("x", 70<<10) + `"}`} {
		_, err := client.Call(context.Background(), "docs__search_docs", args)
		if !errors.Is(err, mcp.ErrBadArguments) || !strings.Contains(err.Error(), "JSON object") {
			t.Errorf("arguments %.20q: %v", args, err)
		}
	}
	if n := server.Calls(mcptest.SearchDocs); n != 0 {
		t.Errorf("the tool ran %d times", n)
	}
	// No arguments at all are an empty object.
	if got, err := client.Call(context.Background(), "docs__ping", " "); err != nil || got != "pong" {
		t.Errorf("ping with no arguments = %q, %v", got, err)
	}
}

// The tool's own refusal of its arguments reaches the model as the tool's
// error.
func TestCallArgumentsTheToolRefuses(t *testing.T) {
	client := docsClient(t, mcptest.NewServer(), mcp.Config{})
	got, err := client.Call(context.Background(), "docs__search_docs", `{"query": 7}`)
	if err != nil || !strings.HasPrefix(got, mcp.ToolErrorMarker) || !strings.Contains(got, "query") {
		t.Errorf("got %q, %v; want a tool error about query", got, err)
	}
}

func TestCallOfAToolNotOffered(t *testing.T) {
	server := mcptest.NewServer()
	client := docsClient(t, server, mcp.Config{})
	for _, name := range []string{"docs__nope", "search_docs", "other__search_docs", "docs__create_ticket", ""} {
		_, err := client.Call(context.Background(), name, "{}")
		if !errors.Is(err, mcp.ErrUnknownTool) {
			t.Errorf("%q: %v", name, err)
		}
		if _, ok := client.Lookup(name); ok {
			t.Errorf("Lookup(%q) finds it", name)
		}
	}
	if n := server.Calls(mcptest.CreateTicket); n != 0 {
		t.Errorf("create_ticket, not trusted, ran %d times", n)
	}
}

// A tool that fails with a protocol error: the model reads the server's
// words.
func TestCallTheServerRefuses(t *testing.T) {
	server := mcptest.NewServer()
	server.AddTool(&sdk.Tool{Name: "locked", InputSchema: objectSchema, Annotations: readOnly},
		func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return nil, errors.New("the database is locked")
		})
	client := docsClient(t, server, mcp.Config{})
	_, err := client.Call(context.Background(), "docs__locked", "{}")
	if err == nil || err.Error() != "the call of docs.locked failed: it answered with an error: the database is locked" {
		t.Errorf("error %v", err)
	}
	// The session is still good.
	if got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`); err != nil || got == "" {
		t.Errorf("next call: %q, %v", got, err)
	}
}

// A call whose answer is garbage fails with a reason; the next call works.
func TestCallAnsweredWithGarbage(t *testing.T) {
	docs := mcptest.NewServer()
	var garbage atomic.Bool
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if garbage.Load() && r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{garbage")
			return
		}
		docs.ServeHTTP(w, r)
	})
	client := docsClient(t, server, mcp.Config{})
	garbage.Store(true)
	_, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`)
	if err == nil || !strings.HasSuffix(err.Error(), "it answered with something that is not MCP") {
		t.Errorf("error %v", err)
	}
	garbage.Store(false)
	if got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`); err != nil || got != mcptest.SearchDocsResult("a") {
		t.Errorf("next call: %q, %v", got, err)
	}
}

// A server that restarted has forgotten the session: the call is made on a
// new one, once, and the tool runs once.
func TestCallAfterTheServerForgotTheSession(t *testing.T) {
	before, after := mcptest.NewServer(), mcptest.NewServer()
	var current atomic.Pointer[mcptest.Server]
	current.Store(before)
	server := countRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().ServeHTTP(w, r) }))
	client := docsClient(t, server, mcp.Config{})
	current.Store(after)
	got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`)
	if err != nil || got != mcptest.SearchDocsResult("a") {
		t.Fatalf("got %q, %v", got, err)
	}
	if a, b := before.Calls(mcptest.SearchDocs), after.Calls(mcptest.SearchDocs); a != 0 || b != 1 {
		t.Errorf("calls before the restart %d, after %d; want 0 and 1", a, b)
	}
}

// A call the caller stops (the user sent \stop) ends at once with the
// caller's error.
func TestCallStoppedByTheCaller(t *testing.T) {
	server := mcptest.NewServer()
	started, release := make(chan struct{}), make(chan struct{})
	server.AddTool(&sdk.Tool{Name: "slow", InputSchema: objectSchema, Annotations: readOnly},
		func(ctx context.Context, _ *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			close(started)
			select {
			case <-ctx.Done():
			case <-release:
			}
			return textResult("late"), nil
		})
	client := docsClient(t, server, mcp.Config{})
	t.Cleanup(func() { close(release) }) // before the client closes
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := client.Call(ctx, "docs__slow", "{}")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "docs.slow was stopped") {
		t.Errorf("error %v", err)
	}
}

// Questions at once share the client: tools listed, sessions renewed as
// the clock moves, calls made; each call runs its tool once.
func TestQuestionsAtOnce(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		t.Run(fmt.Sprintf("stateless=%v", stateless), func(t *testing.T) {
			var opts []mcptest.Option
			if stateless {
				opts = append(opts, mcptest.Stateless())
			}
			server := mcptest.NewServer(opts...)
			clock := newClock()
			client, _ := newClient(t, mcp.Config{
				Servers: []mcp.Server{{Name: "docs", URL: serve(t, server)}, {Name: "more", URL: serve(t, mcptest.NewServer())}},
				Now:     clock.Now,
			})
			const questions, calls = 8, 3
			var wg sync.WaitGroup
			for q := range questions {
				wg.Go(func() {
					for i := range calls {
						tools, down := client.Tools(context.Background())
						if len(tools) != 2 || len(down) != 0 {
							t.Errorf("tools %v, down %v", toolNames(tools), down)
							return
						}
						query := fmt.Sprintf("q%d-%d", q, i)
						got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "`+query+`"}`)
						if err != nil || got != mcptest.SearchDocsResult(query) {
							t.Errorf("call: %q, %v", got, err)
						}
						clock.Advance(mcp.DefaultListFor / 2)
					}
				})
			}
			wg.Wait()
			if n := server.Calls(mcptest.SearchDocs); n != questions*calls {
				t.Errorf("the tool ran %d times for %d calls", n, questions*calls)
			}
		})
	}
}

// Close ends the sessions (a stateful server is told); a call after it
// fails.
func TestCloseEndsTheSessions(t *testing.T) {
	server := countRequests(mcptest.NewServer())
	client := docsClient(t, server, mcp.Config{})
	if _, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`); err != nil {
		t.Fatal(err)
	}
	client.Close()
	if n := server.Requests(http.MethodDelete); n != 1 {
		t.Errorf("%d DELETE requests; want the session ended once", n)
	}
	if _, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`); !errors.Is(err, mcp.ErrClosed) {
		t.Errorf("a call after Close: %v", err)
	}
}

// Keep the JSON of the arguments as the model wrote it.
func TestCallSendsTheArgumentsAsWritten(t *testing.T) {
	server := mcptest.NewServer()
	var got atomic.Value
	server.AddTool(&sdk.Tool{Name: "echo", InputSchema: objectSchema, Annotations: readOnly},
		func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			got.Store(string(req.Params.Arguments))
			return textResult("ok"), nil
		})
	client := docsClient(t, server, mcp.Config{})
	args := `{"n": 1.50, "s": "中文\u00e9", "deep": {"a": [1, {"b": null}]}}`
	if _, err := client.Call(context.Background(), "docs__echo", args); err != nil {
		t.Fatal(err)
	}
	var want, have any
	json.Unmarshal([]byte(args), &want)
	json.Unmarshal([]byte(got.Load().(string)), &have)
	if fmt.Sprint(want) != fmt.Sprint(have) {
		t.Errorf("the server got %s", got.Load())
	}
}

// dropping closes the connection of the next requests whose body holds
// match, without an answer, as a server's end does when it closed an idle
// connection while the instance slept; the others reach h.
type dropping struct {
	h     http.Handler
	match string
	left  atomic.Int32
}

func (d *dropping) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.Contains(body, []byte(d.match)) && d.left.Add(-1) >= 0 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	d.h.ServeHTTP(w, r)
}

// A request that gets no answer at all: a listing or a read-only call is
// made once more (they change nothing); a call of a trusted tool is not,
// for it may have run.
func TestARequestWithoutAnswerIsRetriedOnlyWhenHarmless(t *testing.T) {
	server := mcptest.NewServer()
	drop := &dropping{h: server, match: `"tools/list"`}
	drop.left.Store(1)
	client := docsClient(t, drop, mcp.Config{}, mcptest.CreateTicket)

	drop.match = `"tools/call"`
	drop.left.Store(1)
	if got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`); err != nil || got != mcptest.SearchDocsResult("a") {
		t.Errorf("read-only call: %q, %v", got, err)
	}
	drop.left.Store(1)
	_, err := client.Call(context.Background(), "docs__create_ticket", `{"title": "t"}`)
	if err == nil || !strings.HasSuffix(err.Error(), "it cannot be reached; it may or may not have run") {
		t.Errorf("trusted call: %v; want it to fail, unanswered", err)
	}
	if a, b := server.Calls(mcptest.SearchDocs), server.Calls(mcptest.CreateTicket); a != 1 || b != 0 {
		t.Errorf("search_docs ran %d times, create_ticket %d; want 1 and 0", a, b)
	}
}
