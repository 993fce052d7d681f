package openaitest

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Fixed answers every request with resp.
func Fixed(resp Response) Responder {
	return func(context.Context, Request) Response { return resp }
}

// Answer answers every request with content.
func Answer(content string) Responder {
	return Fixed(Response{Content: content})
}

// Echo answers "<prefix><last user message>", which shows that a question
// reached the model as it was asked.
func Echo(prefix string) Responder {
	return func(_ context.Context, req Request) Response {
		return Response{Content: prefix + req.LastUserMessage()}
	}
}

// Sequence answers the first request with the first response, the second
// with the second, and every request after the last with the last one: a
// 429 then a success, or three failures in a row. With no responses it
// answers with empty content.
func Sequence(responses ...Response) Responder {
	var (
		mu   sync.Mutex
		next int
	)
	return func(context.Context, Request) Response {
		mu.Lock()
		defer mu.Unlock()
		if len(responses) == 0 {
			return Response{}
		}
		r := responses[min(next, len(responses)-1)]
		next++
		return r
	}
}

// Offline is the built-in model of a local run with no model endpoint
// configured. It says so in Chinese, repeats the question, counts the
// pictures that came with it and tells how many earlier turns it was sent,
// so that someone trying the robot sees the history grow and \clear empty
// it.
//
// It uses tools too, so that a local run shows them at work: offered
// tools, it calls the one the question names, or, for a question that asks
// to look something up (搜索, 查一下, search...), a search tool, with the
// question as its query; once the results came back, it answers by
// quoting them.
func Offline() Responder {
	return func(_ context.Context, req Request) Response {
		var b strings.Builder
		b.WriteString("我是内置的离线模型：还没有配置模型服务地址（ENDPOINT），所以这条回答不是真正的大模型给出的。\n\n")
		if results := req.ToolResults(); len(results) > 0 {
			offlineResults(&b, req, results)
			return Response{Content: b.String()}
		}
		if call, ok := offlineCall(req); ok {
			return Response{ToolCalls: []ToolCall{call}}
		}
		if q := strings.TrimSpace(req.LastUserMessage()); q != "" || len(req.Images) == 0 {
			fmt.Fprintf(&b, "你的问题是：「%s」\n\n", q)
		}
		if n := len(req.Images); n > 0 {
			fmt.Fprintf(&b, "你发来了 %d 张图片，但离线模型看不到图片的内容。\n\n", n)
		}
		if string(req.Extra["enable_search"]) == "true" {
			b.WriteString("请求开启了模型服务自带的联网搜索（enable_search），但离线模型不能联网。\n\n")
		}
		if n := req.EarlierTurns(); n == 0 {
			b.WriteString("这是我们对话的第一轮，我没有看到更早的对话。")
		} else {
			fmt.Fprintf(&b, "我看到了之前的 %d 轮对话。发送 \\clear 可以清空对话历史。", n)
		}
		return Response{Content: b.String()}
	}
}

// ContextWindow refuses, as OpenAI does, a request whose messages hold
// more than window tokens, and hands the others to next. It counts a token
// per character and four per message, more than any real tokenizer does
// for English and about what they do for Chinese: enough for a client's
// own, more careful, estimate to stay below it.
func ContextWindow(window int, next Responder) Responder {
	return func(ctx context.Context, req Request) Response {
		n := 0
		for _, m := range req.Messages {
			n += 4 + len([]rune(m.Content))
		}
		if n > window {
			return Response{
				Status: 400, ErrorCode: "context_length_exceeded",
				ErrorMessage: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", window, n),
			}
		}
		return next(ctx, req)
	}
}
