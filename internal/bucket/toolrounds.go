package bucket

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// The tool rounds of a message are kept in its folder, beside its claim and
// its kept answer, so that each tool call is made once per message however
// often FC delivers it (see Receipts, "Tool rounds"):
//
//	intent-<n>.json  the calls of round n, written before they are made
//	                 (only for tools that are not read-only)
//	tools-<n>.json   round n whole: what the model wrote with its calls,
//	                 the calls and their results, written before the model
//	                 reads the results
//
// n counts a message's rounds from 0, in decimal; both files are written
// once. Only the round's number is in a name: the model's ids, tool names
// and arguments are inside the JSON.

// MaxToolRoundBytes bounds the record of one tool round, its calls and
// results as JSON: RecordRound refuses a larger round, and a larger file is
// not read past the bound. The tool loop cuts each result far below it.
const MaxToolRoundBytes = 4 << 20

// maxToolRounds bounds a round's number: far more than MAX_TOOL_ROUNDS
// allows, and it keeps a caller's mistake from writing names without end.
const maxToolRounds = 1000

const (
	roundPrefix  = "tools-"
	intentPrefix = "intent-"
)

func roundName(n int) string  { return roundPrefix + strconv.Itoa(n) + fileSuffix }
func intentName(n int) string { return intentPrefix + strconv.Itoa(n) + fileSuffix }

// parseRoundName reads the round's number out of prefix-<n>.json as
// roundName and intentName write it; ok is false for any other name, which
// is then not a tool record.
func parseRoundName(name, prefix string) (n int, ok bool) {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, fileSuffix); !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || n >= maxToolRounds || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

// toolRoundOf reads the number of the round a tool record's name is of.
func toolRoundOf(name string) (n int, ok bool) {
	if n, ok = parseRoundName(name, roundPrefix); ok {
		return n, true
	}
	return parseRoundName(name, intentPrefix)
}

// toolRecord is the content of intent-<n>.json (Results, Text and
// Reasoning empty) and of tools-<n>.json.
type toolRecord struct {
	Version   int    `json:"version"`
	MessageID string `json:"messageId"`
	// Conversation is the hash of the conversation the message is of
	// (chat.Message.SettingsOwner), as in the kept answer: a forged body
	// that reuses the message id in another conversation must not be
	// given this one's tool results.
	Conversation string `json:"conversation"`
	Round        int    `json:"round"`
	// Writer is a random name of the write that created the file, so that
	// a writer whose create landed but whose answer was lost (the SDK then
	// tries again and meets its own file) knows the file for its own.
	Writer     string             `json:"writer"`
	RecordedAt time.Time          `json:"recordedAt"`
	Text       string             `json:"text,omitempty"`
	Reasoning  string             `json:"reasoning,omitempty"`
	Calls      []toolCallRecord   `json:"calls"`
	Results    []toolResultRecord `json:"results,omitempty"`
}

type toolCallRecord struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type toolResultRecord struct {
	CallID  string `json:"callId"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

func callRecords(calls []chat.ToolCall) []toolCallRecord {
	out := make([]toolCallRecord, len(calls))
	for i, c := range calls {
		out[i] = toolCallRecord{ID: c.ID, Name: c.Name, Arguments: c.Arguments}
	}
	return out
}

func (t toolRecord) calls() []chat.ToolCall {
	out := make([]chat.ToolCall, len(t.Calls))
	for i, c := range t.Calls {
		out[i] = chat.ToolCall{ID: c.ID, Name: c.Name, Arguments: c.Arguments}
	}
	return out
}

func (t toolRecord) round() chat.ToolRound {
	results := make([]chat.ToolResult, len(t.Results))
	for i, res := range t.Results {
		results[i] = chat.ToolResult{CallID: res.CallID, Name: res.Name, Content: res.Content}
	}
	return chat.ToolRound{Text: t.Text, Reasoning: t.Reasoning, Calls: t.calls(), Results: results}
}

// RecordRound keeps round n (from 0) of m's tool loop, its calls and their
// results, in one write, before the model reads the results: an attempt
// that takes the message up later (FC's retry, a second delivery, a
// takeover) replays the round and calls none of its tools again. The first
// record of a round wins: when another attempt recorded round n first,
// RecordRound returns that round, and the caller continues from it and
// drops its own. Otherwise it returns round as a reader will find it (a
// string that is not UTF-8 comes back with U+FFFD where JSON put it).
//
// round must hold at least one call and one result per call; a record larger
// than MaxToolRoundBytes is refused with ErrInvalidArgument (the caller
// cuts the results). A recorded round that cannot be used is an error
// wrapping chat.ErrToolRecord.
func (r *Receipts) RecordRound(ctx context.Context, m chat.Message, n int, round chat.ToolRound) (chat.ToolRound, error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return chat.ToolRound{}, err
	}
	if err := checkToolRound(n, len(round.Calls)); err != nil {
		return chat.ToolRound{}, fmt.Errorf("bucket: record tool round: %w", err)
	}
	if len(round.Results) != len(round.Calls) {
		return chat.ToolRound{}, fmt.Errorf("bucket: record tool round %d: %w: %d results for %d calls", n, ErrInvalidArgument, len(round.Results), len(round.Calls))
	}
	rec := r.newToolRecord(m, n, round.Calls)
	rec.Text, rec.Reasoning = round.Text, round.Reasoning
	rec.Results = make([]toolResultRecord, len(round.Results))
	for i, res := range round.Results {
		rec.Results[i] = toolResultRecord{CallID: res.CallID, Name: res.Name, Content: res.Content}
	}
	data, err := r.writeToolRecord(ctx, path.Join(dir, roundName(n)), rec)
	switch {
	case err == nil:
		// What a reader will find, byte for byte: the writer continues from
		// the same round as everyone else.
		var written toolRecord
		if err := json.Unmarshal(data, &written); err != nil {
			return chat.ToolRound{}, fmt.Errorf("bucket: record tool round %d: %w", n, err)
		}
		return written.round(), nil
	case !errors.Is(err, fs.ErrExist):
		return chat.ToolRound{}, fmt.Errorf("bucket: record tool round %d: %w", n, err)
	}
	first, err := r.readToolRecord(ctx, m, dir, roundName(n), n)
	if err != nil {
		return chat.ToolRound{}, fmt.Errorf("bucket: record tool round %d: %w", n, err)
	}
	return first.round(), nil
}

// RecordIntent keeps the calls of round n of m's tool loop before they are
// made, for tools that are not read-only: an attempt that finds calls
// recorded without their round (ToolRounds' unfinished) knows that they may
// have been made, and never makes them again.
//
// ours says whether this call recorded them: only then may the caller make
// them. Otherwise another attempt recorded round n's calls first, recorded
// is what it recorded, and the caller makes none of them (their outcome is
// unknown to it). A recorded intent that cannot be used is an error
// wrapping chat.ErrToolRecord.
func (r *Receipts) RecordIntent(ctx context.Context, m chat.Message, n int, calls []chat.ToolCall) (recorded []chat.ToolCall, ours bool, err error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return nil, false, err
	}
	if err := checkToolRound(n, len(calls)); err != nil {
		return nil, false, fmt.Errorf("bucket: record tool intent: %w", err)
	}
	rec := r.newToolRecord(m, n, calls)
	data, err := r.writeToolRecord(ctx, path.Join(dir, intentName(n)), rec)
	switch {
	case err == nil:
		var written toolRecord
		if err := json.Unmarshal(data, &written); err != nil {
			return nil, false, fmt.Errorf("bucket: record tool intent %d: %w", n, err)
		}
		return written.calls(), true, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, false, fmt.Errorf("bucket: record tool intent %d: %w", n, err)
	}
	first, err := r.readToolRecord(ctx, m, dir, intentName(n), n)
	if err != nil {
		return nil, false, fmt.Errorf("bucket: record tool intent %d: %w", n, err)
	}
	// The same writer: this very write landed, its answer was lost, and it
	// was tried again.
	return first.calls(), first.Writer == rec.Writer, nil
}

// checkToolRound checks a round's number and that it has calls.
func checkToolRound(n, calls int) error {
	if n < 0 || n >= maxToolRounds {
		return fmt.Errorf("%w: round %d, not from 0 to %d", ErrInvalidArgument, n, maxToolRounds-1)
	}
	if calls == 0 {
		return fmt.Errorf("%w: round %d has no calls", ErrInvalidArgument, n)
	}
	return nil
}

func (r *Receipts) newToolRecord(m chat.Message, n int, calls []chat.ToolCall) toolRecord {
	return toolRecord{
		Version: formatVersion, MessageID: m.ID, Conversation: ownerKey(m.SettingsOwner()), Round: n,
		Writer: rand.Text(), RecordedAt: r.now().UTC(), Calls: callRecords(calls),
	}
}

// writeToolRecord creates the record at p and returns what it wrote.
func (r *Receipts) writeToolRecord(ctx context.Context, p string, rec toolRecord) ([]byte, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxToolRoundBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d: the results must be cut", ErrInvalidArgument, len(data), MaxToolRoundBytes)
	}
	return data, r.objects.Create(ctx, p, data)
}

// ToolRounds reads m's tool loop back: the rounds recorded, 0 to k-1 in
// order, and, when round k's calls were recorded before they were made but
// the round was not, those calls (unfinished): the attempt that made them
// ended during them, so their outcome is unknown, and they are never made
// again. It lists m's folder once and reads its records in parallel;
// Receipt.ToolRounds, from the claim's listing, says whether there is
// anything to read.
//
// A round missing before a recorded one (or before a recorded intent), or
// a record that cannot be used, is an error wrapping chat.ErrToolRecord that
// names the file.
func (r *Receipts) ToolRounds(ctx context.Context, m chat.Message) (rounds []chat.ToolRound, unfinished []chat.ToolCall, err error) {
	dir, err := r.messageDir(m)
	if err != nil {
		return nil, nil, err
	}
	names, err := r.objects.List(ctx, dir, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("bucket: tool rounds: %w", err)
	}
	recorded, intents := map[int]bool{}, map[int]bool{}
	for _, name := range names {
		if n, ok := parseRoundName(name, roundPrefix); ok {
			recorded[n] = true
		} else if n, ok := parseRoundName(name, intentPrefix); ok {
			intents[n] = true
		}
	}
	k := 0
	for recorded[k] {
		k++
	}
	if gap := firstAbove(recorded, k); gap >= 0 {
		return nil, nil, fmt.Errorf("bucket: tool rounds: %w: %s is recorded but %s is missing", chat.ErrToolRecord, roundName(gap), roundName(k))
	}
	if gap := firstAbove(intents, k+1); gap >= 0 {
		return nil, nil, fmt.Errorf("bucket: tool rounds: %w: %s is recorded but %s is missing", chat.ErrToolRecord, intentName(gap), roundName(k))
	}

	rounds = make([]chat.ToolRound, k)
	var g errgroup.Group
	// A few at a time: each may be a few MiB, in a function of 128 MB.
	g.SetLimit(4)
	for n := range k {
		g.Go(func() error {
			rec, err := r.readToolRecord(ctx, m, dir, roundName(n), n)
			rounds[n] = rec.round()
			return err
		})
	}
	if intents[k] {
		g.Go(func() error {
			rec, err := r.readToolRecord(ctx, m, dir, intentName(k), k)
			unfinished = rec.calls()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("bucket: tool rounds: %w", err)
	}
	return rounds, unfinished, nil
}

// firstAbove returns the smallest n in set at or above k, or -1.
func firstAbove(set map[int]bool, k int) int {
	first := -1
	for n := range set {
		if n >= k && (first < 0 || n < first) {
			first = n
		}
	}
	return first
}

// readToolRecord reads the record name, of round n, in m's folder dir,
// reading no more of it than MaxToolRoundBytes, and checks that it is one
// this store wrote for m. Through the mount a file can be seen between its
// creation and its content, so one that does not parse is read again a
// little later (as a claim is) before it counts as torn.
func (r *Receipts) readToolRecord(ctx context.Context, m chat.Message, dir, name string, n int) (toolRecord, error) {
	var rec toolRecord
	var data []byte
	var err error
	for try := range 3 {
		if try > 0 {
			if err := retry.Sleep(ctx, 20*time.Millisecond); err != nil {
				return rec, err
			}
		}
		data, err = readAtMost(ctx, r.objects, path.Join(dir, name), MaxToolRoundBytes+1)
		if err != nil {
			return rec, err
		}
		if len(data) > MaxToolRoundBytes {
			return rec, fmt.Errorf("%w: %s is larger than %d bytes", chat.ErrToolRecord, name, MaxToolRoundBytes)
		}
		rec = toolRecord{}
		if err = json.Unmarshal(data, &rec); err == nil || !isTorn(err) {
			break
		}
	}
	if err != nil {
		return rec, fmt.Errorf("%w: %s does not parse (%d bytes): %w", chat.ErrToolRecord, name, len(data), err)
	}
	var why string
	switch {
	case rec.Version != formatVersion:
		why = fmt.Sprintf("version %d, this build reads %d", rec.Version, formatVersion)
	case rec.MessageID != m.ID:
		why = "written for another message"
	case rec.Conversation != ownerKey(m.SettingsOwner()):
		// The message id is DingTalk's, unique across conversations: this
		// is a forged body reusing it (docs/threat-model.md).
		why = "written for another conversation"
	case rec.Round != n:
		why = fmt.Sprintf("it says it is round %d", rec.Round)
	case len(rec.Calls) == 0:
		why = "it holds no calls"
	case strings.HasPrefix(name, roundPrefix) && len(rec.Results) != len(rec.Calls):
		why = fmt.Sprintf("%d results for %d calls", len(rec.Results), len(rec.Calls))
	default:
		return rec, nil
	}
	return toolRecord{}, fmt.Errorf("%w: %s: %s", chat.ErrToolRecord, name, why)
}
