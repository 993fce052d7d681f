package openaitest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

func conversation(turns int, question string) openaitest.Request {
	req := openaitest.Request{Model: "m", Messages: []openaitest.Message{{Role: "system", Content: "sys"}}}
	for range turns {
		req.Messages = append(req.Messages,
			openaitest.Message{Role: "user", Content: "earlier"},
			openaitest.Message{Role: "assistant", Content: "answer"})
	}
	req.Messages = append(req.Messages, openaitest.Message{Role: "user", Content: question})
	return req
}

func TestEcho(t *testing.T) {
	got := openaitest.Echo("答：")(context.Background(), conversation(2, "我叫什么？"))
	if got.Content != "答：我叫什么？" {
		t.Errorf("Echo answered %q", got.Content)
	}
}

func TestSequence(t *testing.T) {
	next := openaitest.Sequence(openaitest.Response{Status: 429}, openaitest.Response{Content: "a"}, openaitest.Response{Content: "b"})
	var got []string
	for range 5 {
		r := next(context.Background(), conversation(0, "q"))
		if r.Status != 0 {
			got = append(got, "429")
			continue
		}
		got = append(got, r.Content)
	}
	if strings.Join(got, ",") != "429,a,b,b,b" {
		t.Errorf("Sequence answered %v", got)
	}
	if r := openaitest.Sequence()(context.Background(), conversation(0, "q")); r.Content != "" || r.Status != 0 {
		t.Errorf("empty Sequence answered %+v", r)
	}
}

func TestOffline(t *testing.T) {
	tests := []struct {
		turns int
		want  []string
	}{
		{0, []string{"离线模型", "ENDPOINT", "「今天天气怎么样？」", "第一轮"}},
		{3, []string{"离线模型", "「今天天气怎么样？」", "之前的 3 轮对话", `\clear`}},
	}
	for _, tt := range tests {
		got := openaitest.Offline()(context.Background(), conversation(tt.turns, " 今天天气怎么样？ "))
		for _, w := range tt.want {
			if !strings.Contains(got.Content, w) {
				t.Errorf("with %d turns the answer %q lacks %q", tt.turns, got.Content, w)
			}
		}
	}
}

func TestOfflineCountsPictures(t *testing.T) {
	tests := []struct {
		name     string
		question string
		want     []string
		wantNot  []string
	}{
		{"with a question", "这是什么？", []string{"「这是什么？」", "2 张图片", "看不到"}, nil},
		{"pictures alone", "", []string{"2 张图片", "看不到"}, []string{"「」"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := conversation(0, tt.question)
			req.Images = []openaitest.Image{{MediaType: "image/png", Data: []byte("x")}, {URL: "https://example.com/a.png"}}
			got := openaitest.Offline()(context.Background(), req).Content
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q lacks %q", got, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("answer %q has %q", got, w)
				}
			}
		})
	}
}
