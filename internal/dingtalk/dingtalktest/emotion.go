package dingtalktest

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// Reaction is a badge the robot put on a message through the emotion
// calls (docs/protocols.md §1, "Thinking" badge).
type Reaction struct {
	MsgID          string
	ConversationID string
	Text           string
	// Recalled is set once the robot took the badge away.
	Recalled bool
}

// reactionState is what the fake knows of badges: the messages its
// callbacks carried (DingTalk takes badges on users' messages only), the
// badges put on them, and the refusals a test asked for.
type reactionState struct {
	userMessages map[string]string // msgId -> conversationId
	byMsg        map[string]*Reaction
	order        []string
	failNext     int
}

func newReactionState() reactionState {
	return reactionState{userMessages: map[string]string{}, byMsg: map[string]*Reaction{}}
}

// Reactions returns the badges put on messages, in the order they were
// first put.
func (s *Server) Reactions() []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Reaction, 0, len(s.reactions.order))
	for _, id := range s.reactions.order {
		out = append(out, *s.reactions.byMsg[id])
	}
	return out
}

// FailReactionsNext makes the next n emotion calls fail with a 500, as
// DingTalk's are known to now and then.
func (s *Server) FailReactionsNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reactions.failNext = n
}

// serveEmotion serves POST /v1.0/robot/emotion/reply (recall false) and
// /recall. It checks an injected failure, the token, the body (robotCode
// of the app, a message of a user in its conversation, emotionType 2 with
// a text emotion), and records the badge.
func (s *Server) serveEmotion(recall bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RobotCode          string `json:"robotCode"`
			OpenMsgID          string `json:"openMsgId"`
			OpenConversationID string `json:"openConversationId"`
			EmotionType        int    `json:"emotionType"`
			EmotionName        string `json:"emotionName"`
			TextEmotion        *struct {
				EmotionID    string `json:"emotionId"`
				EmotionName  string `json:"emotionName"`
				Text         string `json:"text"`
				BackgroundID string `json:"backgroundId"`
			} `json:"textEmotion"`
		}
		decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

		s.mu.Lock()
		defer s.mu.Unlock()
		st := &s.reactions
		conv, isUsers := st.userMessages[req.OpenMsgID]
		var refused *refusal
		switch {
		case st.failNext > 0:
			st.failNext--
			refused = &refusal{http.StatusInternalServerError, "system.err", "系统错误"}
		case !s.validTokenLocked(r.Header.Get(dingtalk.AccessTokenHeader)):
			refused = badRequest(dingtalk.CodeInvalidAuthentication, "不合法的access_token")
		case decodeErr != nil:
			refused = badRequest("Missingbody", "body is mandatory for this action.")
		case req.RobotCode != s.openAPI.appKey:
			refused = badRequest(CodeInvalidParameter, "robotCode is not this app's robot")
		case req.OpenMsgID == "" || req.OpenConversationID == "":
			refused = badRequest(CodeInvalidParameter, "openMsgId and openConversationId are mandatory")
		case !isUsers || conv != req.OpenConversationID:
			refused = badRequest(CodeInvalidParameter, "the message is not a user's message in this conversation")
		case req.EmotionType != 2 || req.TextEmotion == nil || req.TextEmotion.Text == "" || req.TextEmotion.EmotionID == "" || req.TextEmotion.BackgroundID == "":
			refused = badRequest(CodeInvalidParameter, "a text emotion needs emotionType 2 and textEmotion's emotionId, text and backgroundId")
		}
		if refused != nil {
			refuse(w, refused.status, refused.code, refused.message)
			return
		}
		rec, ok := st.byMsg[req.OpenMsgID]
		if !ok {
			rec = &Reaction{MsgID: req.OpenMsgID, ConversationID: req.OpenConversationID}
			st.byMsg[req.OpenMsgID] = rec
			st.order = append(st.order, req.OpenMsgID)
		}
		rec.Text, rec.Recalled = req.TextEmotion.Text, recall
		s.version++
		s.changed.Broadcast()
		writeOpenAPI(w, http.StatusOK, map[string]any{"result": true})
	}
}
