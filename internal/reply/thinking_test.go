package reply

import "testing"

func TestReasoningNeverShowsUnlessAskedFor(t *testing.T) {
	tests := []struct {
		name, text    string
		hidden, shown string
		thinking      bool
	}{
		{"no reasoning", "答案", "答案", "答案", false},
		{"a reasoning block first", "<think>\n先想想\n\n再想想\n</think>\n\n答案", "答案", "> 思考过程：\n> 先想想\n>\n> 再想想\n\n答案", false},
		{"the opening tag in the prompt", "先想想</think>答案", "答案", "> 思考过程：\n> 先想想\n\n答案", false},
		{"still thinking", "<think>先想", "", "> 思考过程：\n> 先想", true},
		{"two blocks", "<think>a</think>甲<think>b</think>乙", "甲乙", "> 思考过程：\n> a\n>\n> b\n\n甲乙", false},
		{"an empty block", "<think>\n\n</think>答案", "答案", "答案", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := splitThinking(tt.text)
			if got := th.shown(false); got != tt.hidden {
				t.Errorf("shown without SHOW_THINKING %q; want %q", got, tt.hidden)
			}
			if got := th.shown(true); got != tt.shown {
				t.Errorf("shown with SHOW_THINKING %q; want %q", got, tt.shown)
			}
			if th.thinking != tt.thinking {
				t.Errorf("thinking %v; want %v", th.thinking, tt.thinking)
			}
		})
	}
}

func TestAHalfSentTagNeverFlashes(t *testing.T) {
	for in, want := range map[string]string{"答<thi": "答", "答</th": "答", "答<": "答", "a < b": "a < b", "答": "答"} {
		if got := withoutPartialTag(in); got != want {
			t.Errorf("withoutPartialTag(%q) = %q; want %q", in, got, want)
		}
	}
}
