package openai

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

func index(i int) *int { return &i }

func piece(i *int, id, name, args string) goopenai.ToolCall {
	return goopenai.ToolCall{Index: i, ID: id, Function: goopenai.FunctionCall{Name: name, Arguments: args}}
}

func TestToolCallAssembly(t *testing.T) {
	tests := []struct {
		name    string
		chunks  [][]goopenai.ToolCall
		want    []chat.ToolCall
		dropped int
	}{
		{
			name: "Qwen: id and name only in the first piece",
			chunks: [][]goopenai.ToolCall{
				{piece(index(0), "call_q", "web_search", "")},
				{piece(index(0), "", "", `{"que`)},
				{piece(index(0), "", "", `ry":"x"}`)},
			},
			want: []chat.ToolCall{{ID: "call_q", Name: "web_search", Arguments: `{"query":"x"}`}},
		},
		{
			name: "indexes out of order, interleaved, two in one chunk",
			chunks: [][]goopenai.ToolCall{
				{piece(index(1), "b", "clock", "")},
				{piece(index(0), "a", "web_search", `{"q":`), piece(index(1), "", "", `{}`)},
				{piece(index(0), "", "", `1}`)},
			},
			want: []chat.ToolCall{{ID: "a", Name: "web_search", Arguments: `{"q":1}`}, {ID: "b", Name: "clock", Arguments: "{}"}},
		},
		{
			name: "pieces without indexes: by id, else the last call",
			chunks: [][]goopenai.ToolCall{
				{piece(nil, "a", "web_search", `{"q":`)},
				{piece(nil, "", "", `1}`)},
				{piece(nil, "b", "clock", `{}`)},
				{piece(nil, "a", "", ``)},
			},
			want: []chat.ToolCall{{ID: "a", Name: "web_search", Arguments: `{"q":1}`}, {ID: "b", Name: "clock", Arguments: "{}"}},
		},
		{
			name: "ids and names repeated in every piece stay whole",
			chunks: [][]goopenai.ToolCall{
				{piece(index(0), "a", "web_search", `{`)},
				{piece(index(0), "a", "web_search", `}`)},
			},
			want: []chat.ToolCall{{ID: "a", Name: "web_search", Arguments: "{}"}},
		},
		{
			name: "missing and repeated ids are made up",
			chunks: [][]goopenai.ToolCall{
				{piece(index(0), "", "a", ``), piece(index(5), "dup", "b", ``), piece(index(7), "dup", "c", ``), piece(index(-2), "call_3_0", "d", ``)},
			},
			want: []chat.ToolCall{
				{ID: "call_3_0", Name: "d", Arguments: "{}"},
				{ID: "call_3_0_2", Name: "a", Arguments: "{}"},
				{ID: "dup", Name: "b", Arguments: "{}"},
				{ID: "call_3_7", Name: "c", Arguments: "{}"},
			},
		},
		{
			name:    "a call without a name is dropped",
			chunks:  [][]goopenai.ToolCall{{piece(index(0), "a", "", `{}`), piece(index(1), "b", "clock", ``)}},
			want:    []chat.ToolCall{{ID: "b", Name: "clock", Arguments: "{}"}},
			dropped: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a toolCalls
			for _, c := range tt.chunks {
				if err := a.add(c); err != nil {
					t.Fatal(err)
				}
			}
			got, dropped := a.calls(3)
			if !reflect.DeepEqual(got, tt.want) || dropped != tt.dropped {
				t.Errorf("calls %+v, %d dropped\nwant %+v, %d", got, dropped, tt.want, tt.dropped)
			}
		})
	}
}

// FuzzToolCallAssembly feeds the assembler what a hostile or broken
// endpoint may stream, times over: whatever comes, it holds at most
// MaxToolCalls calls of at most MaxToolArgumentBytes of arguments, each
// with a name and an id no other call has, or it refuses the answer.
func FuzzToolCallAssembly(f *testing.F) {
	seeds := []string{
		`[[{"index":0,"id":"a","type":"function","function":{"name":"web_search","arguments":""}}],[{"index":0,"function":{"arguments":"{\"q\":1}"}}]]`,
		`[[{"index":1,"id":"b","function":{"name":"x"}}],[{"index":0,"id":"a","function":{"name":"y"}}],[{"index":1,"function":{"arguments":"{"}}],[{"index":0,"function":{"arguments":"}"}}]]`,
		`[[{"function":{"name":"x","arguments":"{"}}],[{"function":{"arguments":"}"}}],[{"id":"z","function":{"name":"y"}}]]`,
		`[[{"index":9223372036854775807,"id":"","function":{"name":"m"}}],[{"id":"q","function":{"name":"n"}}]]`,
		`[[{"index":-9223372036854775808,"function":{"name":"m"}}],[{"index":-1,"id":"call_1_-1","function":{"name":"n"}}]]`,
		`[[{"index":0,"id":"d","function":{"name":"a"}},{"index":1,"id":"d","function":{"name":"b"}},{"index":2,"id":"call_1_1","function":{"name":"c"}}]]`,
		`[[{"index":0,"function":{"arguments":"` + strings.Repeat(`[`, 2000) + `"}}]]`,
		`[[{"index":0,"function":{"name":"a","arguments":"` + strings.Repeat("x", 8000) + `"}}]]`,
		`[[{"index":0,"id":"a","function":{"name":"x","arguments":"{\"q\":\"` + "\\u00e9" + `"}}],[{"index":0,"function":{"arguments":"` + `\"}` + `"}}]]`,
		`[[{"index":0},{"index":1},{"index":2},{"index":3},{"index":4},{"index":5},{"index":6},{"index":7},{"index":8},{"index":9},{"index":10},{"index":11},{"index":12},{"index":13},{"index":14},{"index":15},{"index":16}]]`,
		`[[{"id":"1"},{"id":"2"},{"id":"3"},{"id":"4"},{"id":"5"},{"id":"6"},{"id":"7"},{"id":"8"},{"id":"9"},{"id":"10"},{"id":"11"},{"id":"12"},{"id":"13"},{"id":"14"},{"id":"15"},{"id":"16"},{"id":"17"}]]`,
		`[[{"index":0,"id":"a","function":{"name":"x","arguments":"{\"q"}}]]`, // cut off
		`[]`,
		`[[]]`,
	}
	for _, s := range seeds {
		f.Add(s, uint8(1))
	}
	f.Add(seeds[7], uint8(9)) // 72 KB of arguments, 8 KB at a time
	f.Fuzz(func(t *testing.T, stream string, times uint8) {
		var chunks [][]goopenai.ToolCall
		if json.Unmarshal([]byte(stream), &chunks) != nil {
			return
		}
		var a toolCalls
		var err error
	feed:
		for range int(times%16) + 1 {
			for _, c := range chunks {
				if err = a.add(c); err != nil {
					break feed
				}
			}
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, chat.ErrModelUnavailable) {
				t.Fatalf("error %v, want an *Error of chat.ErrModelUnavailable", err)
			}
			return
		}
		calls, dropped := a.calls(1)
		if len(calls)+dropped > MaxToolCalls {
			t.Fatalf("%d calls and %d dropped, over %d", len(calls), dropped, MaxToolCalls)
		}
		ids := make(map[string]bool)
		for _, c := range calls {
			if c.Name == "" || c.ID == "" || ids[c.ID] {
				t.Fatalf("call %+v: no name, no id or an id twice", c)
			}
			ids[c.ID] = true
			if len(c.Arguments) > MaxToolArgumentBytes || strings.TrimSpace(c.Arguments) == "" {
				t.Fatalf("call %s has %d bytes of arguments", c.Name, len(c.Arguments))
			}
		}
		if again, _ := a.calls(1); !reflect.DeepEqual(again, calls) {
			t.Fatalf("the same answer gave other calls: %+v, then %+v", calls, again)
		}
	})
}
