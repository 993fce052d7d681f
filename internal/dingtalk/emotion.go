package dingtalk

import (
	"cmp"
	"context"
	"fmt"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// The robot's "reaction" calls put a text badge on a user's message and take
// it away (docs/protocols.md §1, "Thinking" badge).
const (
	EmotionReplyPath  = "/v1.0/robot/emotion/reply"
	EmotionRecallPath = "/v1.0/robot/emotion/recall"
)

// ThinkingText is the badge put on a question while it is answered, and the
// ids DingTalk knows that badge by.
const (
	ThinkingText         = "🤔思考中"
	thinkingEmotionID    = "2659900"
	thinkingBackgroundID = "im_bg_1"
)

// emotionRequest is the body of both reaction calls.
type emotionRequest struct {
	RobotCode          string      `json:"robotCode"`
	OpenMsgID          string      `json:"openMsgId"`
	OpenConversationID string      `json:"openConversationId"`
	EmotionType        int         `json:"emotionType"`
	EmotionName        string      `json:"emotionName"`
	TextEmotion        textEmotion `json:"textEmotion"`
}

type textEmotion struct {
	EmotionID    string `json:"emotionId"`
	EmotionName  string `json:"emotionName"`
	Text         string `json:"text"`
	BackgroundID string `json:"backgroundId"`
}

// Reactions put the "thinking" badge on the message being answered and
// take it away once the answer is delivered: POST /v1.0/robot/emotion/reply
// and /recall, one metered call each. DingTalk accepts them on users'
// messages only, and is known to refuse them now and then; a caller logs a
// failure and goes on.
type Reactions struct {
	OpenAPI *OpenAPI
	// RobotCode is used for a message that carries none.
	RobotCode string
	// CallsLeft, when set, says how many metered calls the month has
	// left (DINGTALK_MONTHLY_API_CALLS); with fewer than Reserve, no badge
	// goes on, so that the calls go to answers.
	CallsLeft func() (int, bool)
	Reserve   int
}

// Thinking puts the badge on m, unless the month's calls run low: then it
// does nothing.
func (r Reactions) Thinking(ctx context.Context, m chat.Message) error {
	if r.CallsLeft != nil {
		if left, ok := r.CallsLeft(); ok && left < r.Reserve {
			return nil
		}
	}
	return r.call(ctx, EmotionReplyPath, m)
}

// Done takes the badge off m.
func (r Reactions) Done(ctx context.Context, m chat.Message) error {
	return r.call(ctx, EmotionRecallPath, m)
}

func (r Reactions) call(ctx context.Context, path string, m chat.Message) error {
	robotCode := cmp.Or(m.RobotCode, r.RobotCode)
	if robotCode == "" || m.ID == "" || m.ConversationID == "" {
		return fmt.Errorf("dingtalk openapi %s: %w: no robot code, message or conversation", path, ErrInvalidRequest)
	}
	body := emotionRequest{
		RobotCode: robotCode, OpenMsgID: m.ID, OpenConversationID: m.ConversationID,
		EmotionType: 2, EmotionName: ThinkingText,
		TextEmotion: textEmotion{EmotionID: thinkingEmotionID, EmotionName: ThinkingText, Text: ThinkingText, BackgroundID: thinkingBackgroundID},
	}
	var answer struct {
		Result any `json:"result"`
	}
	return r.OpenAPI.call(ctx, path, body, &answer)
}
