package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The streaming model of the first-visible-text figure: its first token
// comes timeToFirstToken after the request (at once: the worst case, in
// which the first token races the card's creation), the rest over
// streamTime.
const (
	timeToFirstToken = 0
	streamTime       = 5 * time.Second
	cardMessages     = 5
	cardTemplateID   = "fcrobot-bench.schema"
	cardContentKey   = "content" // CARD_CONTENT_KEY's default
)

// firstText is the time from the model's first token to the first text of
// the answer on the user's AI card, for each message, sorted.
type firstText struct {
	Measured bool
	Slips    []time.Duration
	// Failure is why it could not be measured.
	Failure string
}

// measureFirstVisibleText sends cardMessages messages at once to a robot
// that answers on an AI card (CARD_TEMPLATE_ID, the app's key and secret,
// the default update interval), with a model that streams each answer over
// 5 s from the moment it is asked. For each, the figure is the arrival at
// the fake DingTalk of the card's first update showing text, less the
// moment the model sent its first token.
func measureFirstVisibleText(ctx context.Context, binDir, dataDir string) (_ firstText, err error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return firstText{}, err
	}
	answer := modelAnswer()
	var chunks []string
	for r := []rune(answer); len(r) > 0; r = r[min(4, len(r)):] {
		chunks = append(chunks, string(r[:min(4, len(r))]))
	}
	var mu sync.Mutex
	firstToken := map[string]time.Time{} // by question
	model := func(_ context.Context, req openaitest.Request) openaitest.Response {
		mu.Lock()
		// The fake sends the first chunk as soon as Delay is over.
		firstToken[req.LastUserMessage()] = time.Now().Add(timeToFirstToken)
		mu.Unlock()
		return openaitest.Response{Content: answer, Chunks: chunks, Delay: timeToFirstToken,
			ChunkDelay: streamTime / time.Duration(len(chunks))}
	}
	st, err := startCardStack(ctx, binDir, dataDir, model)
	if err != nil {
		return firstText{}, err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()

	question := func(i int) string { return fmt.Sprintf("第 %d 个问题：帮我总结一下今天的会议", i) }
	for i := range cardMessages {
		user := fmt.Sprint("card-user-", i)
		cb := st.DingTalk.TextCallback(dingtalktest.Conversation{ID: "cid-" + user},
			dingtalktest.Sender{ID: "sender-" + user, StaffID: "staff-" + user, Nick: user}, question(i))
		resp, err := st.Deliver(ctx, cb.Body, time.Now())
		if err != nil {
			return firstText{}, err
		}
		if resp.Status != http.StatusOK {
			return firstText{}, fmt.Errorf("card message %d: DingTalk got %d %s", i, resp.Status, resp.Body)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cards, err := st.DingTalk.WaitCards(waitCtx, cardMessages, true)
	if err != nil {
		return firstText{}, fmt.Errorf("the answers' cards: %w\n%s", err, st.Reply.Output())
	}
	ft := firstText{Measured: true}
	for _, c := range cards {
		i := -1
		if _, err := fmt.Sscanf(c.OpenSpaceID[strings.LastIndexByte(c.OpenSpaceID, '-')+1:], "%d", &i); err != nil || i < 0 || i >= cardMessages {
			return firstText{}, fmt.Errorf("a card for an unknown chat: %s", c.OpenSpaceID)
		}
		mu.Lock()
		token, ok := firstToken[question(i)]
		mu.Unlock()
		if !ok {
			return firstText{}, fmt.Errorf("card %d: the model was never asked", i)
		}
		at, ok := firstTextAt(c)
		if !ok {
			return firstText{}, fmt.Errorf("card %d never showed the answer's text", i)
		}
		ft.Slips = append(ft.Slips, at.Sub(token))
	}
	slices.Sort(ft.Slips)
	return ft, nil
}

// firstTextAt is when the first update that shows text of the answer (not
// the placeholder the card was created with) reached DingTalk.
func firstTextAt(c dingtalktest.Card) (time.Time, bool) {
	for _, u := range c.Updates {
		if u.Key == cardContentKey && strings.TrimSpace(u.Content) != "" && u.Content != c.Data[cardContentKey] {
			return u.At, true
		}
	}
	return time.Time{}, false
}

// cardCalls is the metered OpenAPI calls of one card answer, by its length.
type cardCalls struct {
	Name     string
	Chars    int
	Duration time.Duration
	// Calls are the card's creation and its updates, the last included;
	// the access token, shared by an instance's calls, is not counted.
	Calls int
}

// measureCardCalls streams a short, a typical and a long answer onto AI
// cards at once and counts each card's OpenAPI calls: however long the
// model writes, an answer costs at most 2 + CARD_MAX_UPDATES.
func measureCardCalls(ctx context.Context, binDir, dataDir string) (_ []cardCalls, err error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	answers := []cardCalls{
		{Name: "short", Chars: 40, Duration: time.Second},
		{Name: "typical", Chars: 600, Duration: 5 * time.Second},
		{Name: "long", Chars: 2500, Duration: 20 * time.Second},
	}
	texts := map[string]cardCalls{}
	model := func(_ context.Context, req openaitest.Request) openaitest.Response {
		a := texts[req.LastUserMessage()]
		answer := strings.Repeat("函", a.Chars)
		var chunks []string
		for r := []rune(answer); len(r) > 0; r = r[min(4, len(r)):] {
			chunks = append(chunks, string(r[:min(4, len(r))]))
		}
		return openaitest.Response{Content: answer, Chunks: chunks, ChunkDelay: a.Duration / time.Duration(len(chunks))}
	}
	for _, a := range answers {
		texts["写一个"+a.Name+"的回答"] = a
	}
	st, err := startCardStack(ctx, binDir, dataDir, model)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	for i, a := range answers {
		cb := st.DingTalk.TextCallback(dingtalktest.Conversation{ID: "cid-calls-" + a.Name},
			dingtalktest.Sender{ID: "sender-" + a.Name, StaffID: fmt.Sprint("staff-calls-", i), Nick: a.Name}, "写一个"+a.Name+"的回答")
		if resp, err := st.Deliver(ctx, cb.Body, time.Now()); err != nil || resp.Status != http.StatusOK {
			return nil, fmt.Errorf("callback: %v %+v", err, resp)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cards, err := st.DingTalk.WaitCards(waitCtx, len(answers), true)
	if err != nil {
		return nil, err
	}
	for i, a := range answers {
		for _, c := range cards {
			if strings.HasSuffix(c.OpenSpaceID, fmt.Sprint("staff-calls-", i)) {
				answers[i].Calls = 1 + len(c.Updates)
			}
		}
		if answers[i].Calls == 0 {
			return nil, fmt.Errorf("no card for the %s answer", a.Name)
		}
	}
	return answers, nil
}

// startCardStack starts the robot answering on AI cards of the template
// the fake DingTalk knows, with model as the model.
func startCardStack(ctx context.Context, binDir, dataDir string, model openaitest.Responder) (*devstack.Stack, error) {
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := devstack.Start(startCtx, devstack.Config{
		BinDir: binDir, DataDir: dataDir, Model: model, DingTalkApp: true,
		ReplyEnv: map[string]string{"CARD_TEMPLATE_ID": cardTemplateID},
	})
	if err != nil {
		return nil, err
	}
	st.DingTalk.AddCardTemplate(cardTemplateID, cardContentKey)
	return st, nil
}
