package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// searchRound is a round as the model asks it: two calls in one turn, with
// ids and arguments the model chose, some of them hostile to a path.
func searchRound(tag string) chat.ToolRound {
	return chat.ToolRound{
		Text:      "我先查一下。" + tag,
		Reasoning: "用户问的是今天的新闻，需要搜索。",
		Calls: []chat.ToolCall{
			{ID: "call_../../../etc/passwd", Name: "web_search", Arguments: `{"query":"今日新闻 ` + tag + `"}`},
			{ID: "call_2\x00/", Name: "docs__search", Arguments: `{"q":"/../claim-000001.json"}`},
		},
		Results: []chat.ToolResult{
			{CallID: "call_../../../etc/passwd", Name: "web_search", Content: "[新闻](https://example.com/" + tag + ")"},
			{CallID: "call_2\x00/", Name: "docs__search", Content: "工具出错：服务暂时不可用"},
		},
	}
}

func newReceiptsOn(objects Objects, now *time.Time) *Receipts {
	return NewReceipts(objects, Config{Now: func() time.Time { return *now }})
}

func TestToolRoundsAreRecordedAndReadBack(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		m := chat.Message{ID: "msg-1", ConversationID: "cid-1", ConversationType: chat.SingleChat, CreatedAt: now}
		first := chat.Attempt{RequestID: "req-1", Instance: "i-a"}
		if rec, _, _, err := r.Claim(ctx, m, first, time.Minute); err != nil || rec.ToolRounds != 0 {
			t.Fatalf("a new message: %+v, %v; want no tool rounds", rec, err)
		}

		// Round 0 calls a tool that is not read-only: its calls are
		// recorded first. Round 1's tools are read-only.
		want := []chat.ToolRound{searchRound("0"), searchRound("1")}
		recorded, ours, err := r.RecordIntent(ctx, m, 0, want[0].Calls)
		if err != nil || !ours || !reflect.DeepEqual(recorded, want[0].Calls) {
			t.Fatalf("RecordIntent: %+v, ours %v, %v; want the calls, ours", recorded, ours, err)
		}
		for n, round := range want {
			got, err := r.RecordRound(ctx, m, n, round)
			if err != nil || !reflect.DeepEqual(got, round) {
				t.Fatalf("RecordRound(%d) = %+v, %v; want the round as given", n, got, err)
			}
		}

		// FC's retry, on another instance, finds the rounds in the claim's
		// listing and reads them back in order.
		again := newReceiptsOn(objects, &now)
		retry := chat.Attempt{RequestID: "req-1", Retry: 1, Instance: "i-b"}
		rec, _, claimed, err := again.Claim(ctx, m, retry, time.Minute)
		if err != nil || !claimed || rec.ToolRounds != 2 {
			t.Fatalf("the retry's claim: %+v, claimed %v, %v; want 2 tool rounds", rec, claimed, err)
		}
		rounds, unfinished, err := again.ToolRounds(ctx, m)
		if err != nil || !reflect.DeepEqual(rounds, want) || unfinished != nil {
			t.Errorf("ToolRounds = %+v, %+v, %v; want the rounds recorded and nothing unfinished", rounds, unfinished, err)
		}

		// Only the round's number names a file: nothing the model wrote.
		dir, _ := r.messageDir(m)
		names, err := objects.List(ctx, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if _, ok := toolRoundOf(name); !ok && !strings.HasPrefix(name, claimPrefix) {
				t.Errorf("unexpected file %q in the message's folder", name)
			}
		}
	})
}

func TestARoundIsReadBackAsItWasRecorded(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
		round := searchRound("0")
		round.Results[0].Content = "cut in a rune: \xe4\xbd"
		got, err := r.RecordRound(ctx, m, 0, round)
		if err != nil {
			t.Fatal(err)
		}
		rounds, _, err := r.ToolRounds(ctx, m)
		if err != nil || len(rounds) != 1 || !reflect.DeepEqual(rounds[0], got) {
			t.Errorf("read back %+v, %v; the writer continues from %+v: every attempt must continue from the same round", rounds, err, got)
		}
	})
}

func TestOfAttemptsRecordingARoundAtOnceAllContinueFromTheFirst(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		ctx := t.Context()
		m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
		const attempts = 6
		for n := range 5 {
			var wg sync.WaitGroup
			got := make([]chat.ToolRound, attempts)
			for i := range attempts {
				// Each attempt its own instance, with its own results.
				r := newReceiptsOn(objects, &now)
				wg.Go(func() {
					var err error
					if got[i], err = r.RecordRound(ctx, m, n, searchRound(fmt.Sprint(n, "-", i))); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			isInput := false
			for i := range attempts {
				if !reflect.DeepEqual(got[i], got[0]) {
					t.Fatalf("round %d: attempt %d continues from %+v, attempt 0 from %+v", n, i, got[i], got[0])
				}
				isInput = isInput || reflect.DeepEqual(got[0], searchRound(fmt.Sprint(n, "-", i)))
			}
			if !isInput {
				t.Fatalf("round %d: the attempts continue from %+v, which none of them recorded", n, got[0])
			}
			rounds, _, err := newReceiptsOn(objects, &now).ToolRounds(ctx, m)
			if err != nil || len(rounds) != n+1 || !reflect.DeepEqual(rounds[n], got[0]) {
				t.Fatalf("round %d read back as %+v, %v; want %+v", n, rounds, err, got[0])
			}
		}
	})
}

func TestOfAttemptsRecordingTheSameCallsAtOnceOneMakesThem(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		ctx := t.Context()
		for n := range 5 {
			m := chat.Message{ID: fmt.Sprint("msg-", n), ConversationID: "cid-1", CreatedAt: now}
			// The twins ask for the same calls, as one model given one
			// prompt does: only one of them may make them.
			calls := searchRound("same").Calls
			var wg sync.WaitGroup
			var makers atomic.Int32
			for range 6 {
				r := newReceiptsOn(objects, &now)
				wg.Go(func() {
					recorded, ours, err := r.RecordIntent(ctx, m, 0, calls)
					if err != nil || !reflect.DeepEqual(recorded, calls) {
						t.Errorf("RecordIntent: %+v, %v", recorded, err)
					}
					if ours {
						makers.Add(1)
					}
				})
			}
			wg.Wait()
			if got := makers.Load(); got != 1 {
				t.Fatalf("message %d: %d of 6 attempts were told to make the calls; want exactly 1", n, got)
			}
		}
	})
}

func TestCallsRecordedWithoutTheirRoundAreNeverMadeAgain(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		ctx := t.Context()
		m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
		dead := newReceiptsOn(objects, &now)
		if _, err := dead.RecordRound(ctx, m, 0, searchRound("0")); err != nil {
			t.Fatal(err)
		}
		calls := searchRound("1").Calls
		if _, ours, err := dead.RecordIntent(ctx, m, 1, calls); err != nil || !ours {
			t.Fatalf("RecordIntent: ours %v, %v", ours, err)
		}
		// The instance dies while round 1's tools run.

		r := newReceiptsOn(objects, &now)
		rec, _, claimed, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req-1", Retry: 1}, time.Minute)
		if err != nil || !claimed || rec.ToolRounds != 2 {
			t.Fatalf("the retry's claim: %+v, claimed %v, %v; want 2 tool rounds (one begun)", rec, claimed, err)
		}
		rounds, unfinished, err := r.ToolRounds(ctx, m)
		if err != nil || len(rounds) != 1 || !reflect.DeepEqual(unfinished, calls) {
			t.Fatalf("ToolRounds = %d rounds, unfinished %+v, %v; want round 0 and round 1's calls unfinished", len(rounds), unfinished, err)
		}
		// The retry's model, told their outcome is unknown, asks again for
		// other calls in round 1: those recorded first stand, and it makes
		// none.
		recorded, ours, err := r.RecordIntent(ctx, m, 1, searchRound("other").Calls)
		if err != nil || ours || !reflect.DeepEqual(recorded, calls) {
			t.Errorf("RecordIntent over an unfinished round: %+v, ours %v, %v; want the first calls, not ours", recorded, ours, err)
		}
		// It records round 1 with results that say so; nothing is
		// unfinished any more.
		round1 := chat.ToolRound{Calls: calls, Results: []chat.ToolResult{
			{CallID: calls[0].ID, Name: calls[0].Name, Content: "结果未知"},
			{CallID: calls[1].ID, Name: calls[1].Name, Content: "结果未知"},
		}}
		if _, err := r.RecordRound(ctx, m, 1, round1); err != nil {
			t.Fatal(err)
		}
		rounds, unfinished, err = r.ToolRounds(ctx, m)
		if err != nil || len(rounds) != 2 || unfinished != nil || !reflect.DeepEqual(rounds[1], round1) {
			t.Errorf("after round 1 was recorded: %+v, unfinished %+v, %v", rounds, unfinished, err)
		}
	})
}

// lostAnswers creates each object, then answers as if the answer were
// lost and the SDK had tried again: the object exists.
type lostAnswers struct{ Objects }

func (l lostAnswers) Create(ctx context.Context, p string, data []byte) error {
	if err := l.Objects.Create(ctx, p, data); err != nil {
		return err
	}
	return fmt.Errorf("oss: create %s: %w", p, fs.ErrExist)
}

func TestCallsWhoseRecordLandedUnansweredAreStillMade(t *testing.T) {
	now := testClock
	r := newReceiptsOn(lostAnswers{MountAt(t, t.TempDir())}, &now)
	m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
	calls := searchRound("0").Calls
	if recorded, ours, err := r.RecordIntent(t.Context(), m, 0, calls); err != nil || !ours || !reflect.DeepEqual(recorded, calls) {
		t.Errorf("RecordIntent whose write landed but whose answer was lost: %+v, ours %v, %v; want the calls, ours", recorded, ours, err)
	}
}

func TestWhatCannotBeRecordedIsRefused(t *testing.T) {
	now := testClock
	r := newReceiptsOn(MountAt(t, t.TempDir()), &now)
	ctx := t.Context()
	m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
	round := searchRound("0")
	huge := searchRound("0")
	huge.Results[0].Content = strings.Repeat("字", MaxToolRoundBytes/3)
	for name, record := range map[string]func() error{
		"a negative round": func() error { _, err := r.RecordRound(ctx, m, -1, round); return err },
		"round 1000":       func() error { _, err := r.RecordRound(ctx, m, 1000, round); return err },
		"no calls":         func() error { _, err := r.RecordRound(ctx, m, 0, chat.ToolRound{Text: "x"}); return err },
		"a result missing": func() error {
			_, err := r.RecordRound(ctx, m, 0, chat.ToolRound{Calls: round.Calls, Results: round.Results[:1]})
			return err
		},
		"more than the bound": func() error { _, err := r.RecordRound(ctx, m, 0, huge); return err },
		"an intent of no calls": func() error {
			_, _, err := r.RecordIntent(ctx, m, 0, nil)
			return err
		},
		"an intent of round -1": func() error {
			_, _, err := r.RecordIntent(ctx, m, -1, round.Calls)
			return err
		},
		"a message without an id": func() error {
			_, err := r.RecordRound(ctx, chat.Message{CreatedAt: now}, 0, round)
			return err
		},
	} {
		if err := record(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v; want ErrInvalidArgument", name, err)
		}
	}
	if rec, err := r.get(ctx, m); err != nil || rec.ToolRounds != 0 {
		t.Errorf("after refused records: %+v, %v; want nothing recorded", rec, err)
	}
}

func TestBrokenToolRecordsAreErrorsThatSayWhich(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		genuine := chat.Message{ID: "msg-genuine", ConversationID: "cid-1", ConversationType: chat.GroupChat, CreatedAt: now}
		if _, err := r.RecordRound(ctx, genuine, 0, searchRound("secret")); err != nil {
			t.Fatal(err)
		}
		genuineDir, _ := r.messageDir(genuine)
		recorded, err := objects.Read(ctx, path.Join(genuineDir, roundName(0)))
		if err != nil {
			t.Fatal(err)
		}
		valid := func(edit func(rec *toolRecord)) string {
			m := chat.Message{ID: "msg-x", ConversationID: "cid-1", CreatedAt: now}
			rec := r.newToolRecord(m, 0, searchRound("x").Calls)
			rec.Results = make([]toolResultRecord, len(rec.Calls))
			edit(&rec)
			return string(mustJSON(t, rec))
		}
		for _, c := range []struct {
			name  string
			m     chat.Message
			files map[string]string
			want  string // what the error says, after the file's name
		}{
			{name: "a gap", files: map[string]string{"tools-0.json": "", "tools-2.json": ""}, want: "tools-2.json is recorded but tools-1.json is missing"},
			{name: "an intent past a gap", files: map[string]string{"tools-0.json": "", "intent-2.json": ""}, want: "intent-2.json is recorded but tools-1.json is missing"},
			{name: "no round 0", files: map[string]string{"tools-1.json": ""}, want: "tools-1.json is recorded but tools-0.json is missing"},
			{name: "torn", files: map[string]string{"tools-0.json": `{"version":1,"messageId":"msg-x","cal`}, want: "tools-0.json does not parse"},
			{name: "empty", files: map[string]string{"tools-0.json": "", "intent-0.json": "{}"}, want: "tools-0.json does not parse"},
			{name: "not a record", files: map[string]string{"tools-0.json": `[1,2,3]`}, want: "tools-0.json does not parse"},
			{name: "deeply nested", files: map[string]string{"tools-0.json": `{"calls":` + strings.Repeat("[", 100_000)}, want: "tools-0.json does not parse"},
			{name: "oversized", files: map[string]string{"tools-0.json": `{"text":"` + strings.Repeat("x", MaxToolRoundBytes) + `"}`}, want: "tools-0.json is larger than 4194304 bytes"},
			{name: "a later version", files: map[string]string{"tools-0.json": valid(func(rec *toolRecord) { rec.Version = 2 })}, want: "tools-0.json: version 2, this build reads 1"},
			{name: "another round", files: map[string]string{"tools-0.json": valid(func(rec *toolRecord) { rec.Round = 3 })}, want: "tools-0.json: it says it is round 3"},
			{name: "no calls", files: map[string]string{"tools-0.json": valid(func(rec *toolRecord) { rec.Calls = nil })}, want: "tools-0.json: it holds no calls"},
			{name: "a result missing", files: map[string]string{"tools-0.json": valid(func(rec *toolRecord) { rec.Results = rec.Results[1:] })}, want: "tools-0.json: 1 results for 2 calls"},
			{name: "an intent of no calls", files: map[string]string{"intent-0.json": valid(func(rec *toolRecord) { rec.Calls = []toolCallRecord{} })}, want: "intent-0.json: it holds no calls"},
			{name: "another message's record", files: map[string]string{"tools-0.json": string(recorded)}, want: "tools-0.json: written for another message"},
			// A forged body reusing the genuine message's id in another
			// conversation (or in a one-to-one chat with the group's id).
			{name: "another conversation", m: chat.Message{ID: genuine.ID, ConversationID: "cid-attacker", CreatedAt: now}, want: "tools-0.json: written for another conversation"},
			{name: "another type of conversation", m: chat.Message{ID: genuine.ID, ConversationID: "cid-1", ConversationType: chat.SingleChat, CreatedAt: now}, want: "tools-0.json: written for another conversation"},
		} {
			m := c.m
			if m.ID == "" {
				m = chat.Message{ID: "msg-" + strings.ReplaceAll(c.name, " ", "-"), ConversationID: "cid-1", CreatedAt: now}
				dir, _ := r.messageDir(m)
				for name, content := range c.files {
					// valid wrote its records for msg-x.
					content = strings.ReplaceAll(content, `"messageId":"msg-x"`, `"messageId":"`+m.ID+`"`)
					if err := objects.Create(ctx, path.Join(dir, name), []byte(content)); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, _, err := r.ToolRounds(ctx, m)
			if !errors.Is(err, chat.ErrToolRecord) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: ToolRounds: %v; want chat.ErrToolRecord saying %q", c.name, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: the error carries what was recorded: %v", c.name, err)
			}
		}

		// A later attempt recording over a broken round is told so too,
		// and does not take it for its own.
		m := chat.Message{ID: "msg-torn-later", ConversationID: "cid-1", CreatedAt: now}
		dir, _ := r.messageDir(m)
		for _, name := range []string{roundName(0), intentName(0)} {
			if err := objects.Create(ctx, path.Join(dir, name), []byte(`{"version":1,`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.RecordRound(ctx, m, 0, searchRound("0")); !errors.Is(err, chat.ErrToolRecord) {
			t.Errorf("RecordRound over a torn round: %v; want chat.ErrToolRecord", err)
		}
		if _, ours, err := r.RecordIntent(ctx, m, 0, searchRound("0").Calls); !errors.Is(err, chat.ErrToolRecord) || ours {
			t.Errorf("RecordIntent over a torn intent: ours %v, %v; want chat.ErrToolRecord", ours, err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOnlyTheStoresOwnNamesCountAsToolRounds(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
		if _, err := r.RecordRound(ctx, m, 0, searchRound("0")); err != nil {
			t.Fatal(err)
		}
		dir, _ := r.messageDir(m)
		for _, name := range []string{"tools-01.json", "tools--1.json", "tools-+1.json", "tools-x.json", "tools-1000.json", "intent-9.json.tmp", "tmp-123.json", "tools-3"} {
			if err := objects.Create(ctx, path.Join(dir, name), []byte("junk")); err != nil {
				t.Fatal(err)
			}
		}
		if rec, err := r.get(ctx, m); err != nil || rec.ToolRounds != 1 {
			t.Errorf("receipt %+v, %v; want 1 tool round", rec, err)
		}
		if rounds, unfinished, err := r.ToolRounds(ctx, m); err != nil || len(rounds) != 1 || unfinished != nil {
			t.Errorf("ToolRounds = %d rounds, %+v, %v; want the one recorded", len(rounds), unfinished, err)
		}
	})
}

func TestToolRoundsGoWithTheirMessagesDay(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := testClock
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		old := chat.Message{ID: "msg-old", ConversationID: "cid-1", CreatedAt: now.Add(-4 * 24 * time.Hour)}
		if _, err := r.RecordRound(ctx, old, 0, searchRound("0")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.RecordIntent(ctx, old, 1, searchRound("1").Calls); err != nil {
			t.Fatal(err)
		}
		if err := r.SaveAnswer(ctx, old, "答"); err != nil {
			t.Fatal(err)
		}
		if err := r.MarkDelivered(ctx, old); err != nil {
			t.Fatal(err)
		}
		// Two deliveries of today's messages: one removes the old message,
		// the next its emptied day.
		fresh := chat.Message{ID: "msg-fresh", ConversationID: "cid-1", CreatedAt: now}
		for range 2 {
			if err := r.MarkDelivered(ctx, fresh); err != nil {
				t.Fatal(err)
			}
		}
		if rounds, unfinished, err := r.ToolRounds(ctx, old); err != nil || len(rounds) != 0 || unfinished != nil {
			t.Errorf("the old message's rounds after pruning: %+v, %+v, %v; want none", rounds, unfinished, err)
		}
		days, err := objects.List(ctx, receiptsDir, 0)
		if want := []string{now.Format("20060102")}; err != nil || !slices.Equal(days, want) {
			t.Errorf("days left %v, %v; want %v", days, err, want)
		}
	})
}

// FuzzToolRoundRecords: whatever the model and the tools wrote, a round is
// read back as its writer continues from it, and only the round's number
// names a file.
func FuzzToolRoundRecords(f *testing.F) {
	f.Add("", "call_0", "web_search", `{"query":"x"}`, "结果")
	f.Add("\xff\xfe", "../../claim-000001.json", "a/b\x00c", strings.Repeat("[", 5000), "\xe4\xbd")
	f.Add(strings.Repeat("字", 10000), "", "", "", `{"version":2}`)
	f.Fuzz(func(t *testing.T, text, id, name, args, content string) {
		now := testClock
		objects := MountAt(t, t.TempDir())
		r := newReceiptsOn(objects, &now)
		ctx := t.Context()
		m := chat.Message{ID: id, ConversationID: name, CreatedAt: now}
		if m.ID == "" {
			m.ID = "msg"
		}
		round := chat.ToolRound{Text: text, Reasoning: text,
			Calls:   []chat.ToolCall{{ID: id, Name: name, Arguments: args}},
			Results: []chat.ToolResult{{CallID: id, Name: name, Content: content}},
		}
		got, err := r.RecordRound(ctx, m, 0, round)
		if err != nil {
			t.Fatal(err)
		}
		rounds, unfinished, err := r.ToolRounds(ctx, m)
		if err != nil || len(rounds) != 1 || !reflect.DeepEqual(rounds[0], got) || unfinished != nil {
			t.Fatalf("read back %+v, %+v, %v; the writer continues from %+v", rounds, unfinished, err, got)
		}
		dir, _ := r.messageDir(m)
		if names, err := objects.List(ctx, dir, 0); err != nil || !slices.Equal(names, []string{roundName(0)}) {
			t.Errorf("the message's folder holds %q, %v", names, err)
		}
	})
}

// FuzzToolRecordFiles: whatever a record file holds, reading it never
// panics, and gives either a round that can be replayed (calls, and a
// result for each) or an error wrapping chat.ErrToolRecord.
func FuzzToolRecordFiles(f *testing.F) {
	now := testClock
	m := chat.Message{ID: "msg-1", ConversationID: "cid-1", CreatedAt: now}
	rec := (&Receipts{now: func() time.Time { return now }}).newToolRecord(m, 0, searchRound("0").Calls)
	rec.Results = []toolResultRecord{{CallID: "a", Content: "x"}, {CallID: "b"}}
	valid, err := json.Marshal(rec)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		valid,
		valid[:len(valid)/2], // torn
		[]byte(`{"version":1,"messageId":"msg-1","calls":` + strings.Repeat("[", 100_000)), // deep nesting
		[]byte(strings.Replace(string(valid), `"round":0`, `"round":0,"round":1`, 1)),      // a key twice
		[]byte(strings.Replace(string(valid), `"calls":[`, `"calls":[null,`, 1)),           // a null call
		[]byte(`null`),
		[]byte(`{"version":1e400}`),
		{},
		// A file past the bound is TestBrokenToolRecordsAreErrorsThatSayWhich's:
		// seeds of megabytes would slow the fuzzer to a crawl.
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Synthetic time: a file that does not parse is read again a
		// little later, and the fuzzer need not wait for it.
		synctest.Test(t, func(t *testing.T) {
			objects := MountAt(t, t.TempDir())
			r := newReceiptsOn(objects, &now)
			dir, _ := r.messageDir(m)
			if err := objects.Create(t.Context(), path.Join(dir, roundName(0)), data); err != nil {
				t.Fatal(err)
			}
			rounds, _, err := r.ToolRounds(t.Context(), m)
			if err != nil {
				if !errors.Is(err, chat.ErrToolRecord) {
					t.Errorf("an error not wrapping chat.ErrToolRecord: %v", err)
				}
				return
			}
			if len(rounds) != 1 || len(rounds[0].Calls) == 0 || len(rounds[0].Results) != len(rounds[0].Calls) {
				t.Errorf("a round that cannot be replayed was taken: %+v", rounds)
			}
			if len(data) > MaxToolRoundBytes {
				t.Errorf("a file of %d bytes was taken, past the bound", len(data))
			}
		})
	})
}
