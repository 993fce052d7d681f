// Package chat holds the robot's domain: a message someone sent to the robot
// and what it carries (pictures, files, the message it quotes, voice and
// video), a button of one of the robot's cards pressed, the event that
// carries either from the conversation function to the reply function, an
// attempt at answering a message and the receipt of what was done for it,
// the question/answer turns that make up a history, a
// conversation's settings, the prompt a model is asked and the estimate of
// its tokens, the answer the robot gives and the draft on screen while it
// is written, what a sender asked in a day, and the kinds of failure a
// model or a file has.
//
// It has no dependencies beyond the standard library, so that every other
// package (DingTalk, FC, the bucket, the model, the file readers) can speak
// in its terms; it touches no outside system itself.
package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ConversationType says whether a message came from a one-to-one chat with
// the robot or from a group in which someone @-mentioned it. The values are
// DingTalk's own.
type ConversationType string

const (
	SingleChat ConversationType = "1"
	GroupChat  ConversationType = "2"
)

// Message is one message a user sent to the robot, reduced to what the
// robot needs to answer it.
type Message struct {
	// ID is DingTalk's msgId: the key for deduplication.
	ID string `json:"id"`
	// Type is DingTalk's msgtype (text, richText, picture, audio, ...).
	Type string `json:"type"`
	// Text is what the user said, trimmed: the text of a text message, the
	// text parts of a richText one, the speech recognition of an audio one.
	Text string `json:"text"`
	// Pictures holds the download codes of the pictures the message carries.
	Pictures []string `json:"pictures,omitempty"`
	// File is the file a file message carries.
	File *Attachment `json:"file,omitempty"`
	// Quote is the message this one replies to, when the user quoted one.
	Quote *Quote `json:"quote,omitempty"`

	ConversationID    string           `json:"conversationId"`
	ConversationType  ConversationType `json:"conversationType"`
	ConversationTitle string           `json:"conversationTitle,omitempty"`

	// SenderID is DingTalk's senderId: stable per sender and robot, present
	// for every sender (unlike the staff id, absent for external users, and
	// unlike the nick, which anyone can share).
	SenderID      string `json:"senderId"`
	SenderStaffID string `json:"senderStaffId,omitempty"`
	SenderNick    string `json:"senderNick,omitempty"`
	SenderCorpID  string `json:"senderCorpId,omitempty"`
	RobotCode     string `json:"robotCode,omitempty"`

	// Webhook is the sessionWebhook the answer is posted to, valid until
	// WebhookExpiresAt.
	Webhook          string    `json:"webhook"`
	WebhookExpiresAt time.Time `json:"webhookExpiresAt"`
	// CreatedAt is DingTalk's createAt: when the user sent the message. It
	// orders the turns of a history.
	CreatedAt time.Time `json:"createdAt"`
}

// IsGroup reports whether the message came from a group chat.
func (m Message) IsGroup() bool { return m.ConversationType == GroupChat }

// HistoryOwner names whose history the message belongs to: the conversation
// in a single chat, the conversation and the sender in a group, so that the
// members of a group each keep their own thread with the robot. The result
// holds user-controlled strings: a store must not use it as a path as it is.
func (m Message) HistoryOwner() string {
	if m.IsGroup() {
		return "group\x00" + ownerPart(m.ConversationID) + "\x00" + ownerPart(m.SenderID)
	}
	return "single\x00" + ownerPart(m.ConversationID)
}

// ownerPart is an id as a part of an owner, whose parts NUL separates: a
// NUL inside an id (never in DingTalk's, which are ASCII, but a forged
// callback's may hold one) becomes U+FFFD, so that no id can carry a
// separator and name another conversation's state ("group", "A\x00X",
// "S" against "group", "A", "X\x00S"). The ids DingTalk sends are kept as
// they are, and so are the owners already stored.
func ownerPart(id string) string { return strings.ReplaceAll(id, "\x00", "\uFFFD") }

// GroupHistoryOwner names the history a whole group shares, for a robot
// whose members of a group share one context.
func (m Message) GroupHistoryOwner() string {
	return "groupshared\x00" + ownerPart(m.ConversationID)
}

// SettingsOwner names whose settings m's conversation uses: the
// conversation, with its type, so that a message of one type never reaches
// the settings of a conversation of the other: a forged one-to-one
// callback that carries a group's conversationId finds its own settings,
// not the group's (docs/threat-model.md). The result holds user-controlled
// strings: a store must not use it as a path as it is.
func (m Message) SettingsOwner() string {
	if m.IsGroup() {
		return "group\x00" + ownerPart(m.ConversationID)
	}
	return "single\x00" + ownerPart(m.ConversationID)
}

// SettingsKey names the settings a message uses, and what a store needs to
// find those kept before settings were keyed by the conversation's type.
type SettingsKey struct {
	// Owner is whose settings they are (Message.SettingsOwner).
	Owner string
	// Conversation is the conversation id alone, under which builds before
	// typed keys kept a conversation's settings.
	Conversation string
	// Witness is the history of the message's asker in the conversation
	// (or the group's shared history): turns kept there before the
	// upgrade show that the conversation was of Owner's type then, which
	// the conversation id alone does not say.
	Witness string
}

// EventVersion is the version of the Event format that this build writes.
// A reply function refuses an event of a version it does not know rather
// than misread it.
//
// An event of a press (Event.Press) kept version 1: it carries no
// "message", and a reply function built before presses reads it as a
// message with none of the fields a message needs, which Validate refuses
// (missing message.id, ...): the event is dropped, not retried, and never
// answered as an empty message. A new version would have had every event
// of a message written during a deploy refused by the reply instances
// still running the older build.
const EventVersion = 1

// Event is the payload of the asynchronous invocation that the conversation
// function sends to the reply function: a message someone sent the robot,
// or a button of one of the robot's cards someone pressed, never both.
type Event struct {
	Version int `json:"version"`
	// Message is the message handed over; absent from an event of a press.
	Message Message `json:"message,omitzero"`
	// Press is the button pressed; nil in an event of a message.
	Press *Press `json:"press,omitempty"`
	// CardCallbackURL, in an event of a message, is where DingTalk is to
	// send the presses of the buttons of the robot's cards (the
	// conversation function's /card): the reply function registers it
	// with DingTalk (docs/cards.md). Empty when the robot's cards have no
	// buttons, or when the conversation function could not tell its own
	// address.
	CardCallbackURL string `json:"cardCallbackUrl,omitempty"`
	// ReceivedAt is when the conversation function accepted the callback.
	ReceivedAt time.Time `json:"receivedAt"`
}

// ErrInvalidEvent is wrapped by every error Validate returns.
var ErrInvalidEvent = errors.New("invalid event")

// Validate checks that an event carries what the reply function needs: a
// message with the fields an answer needs, or a valid press, and not both.
func (e Event) Validate() error {
	var missing []string
	if e.Version != EventVersion {
		return fmt.Errorf("%w: version %d, this build reads version %d", ErrInvalidEvent, e.Version, EventVersion)
	}
	m := e.Message
	hasMessage := m.ID != "" || m.ConversationID != "" || m.SenderID != "" || m.Webhook != "" || m.Text != "" || m.Type != ""
	switch {
	case e.Press != nil && hasMessage:
		return fmt.Errorf("%w: it carries both a message and a press", ErrInvalidEvent)
	case e.Press != nil:
		if err := e.Press.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
		}
		return nil
	case !hasMessage:
		return fmt.Errorf("%w: it carries neither a message nor a press", ErrInvalidEvent)
	}
	if m.ID == "" {
		missing = append(missing, "message.id")
	}
	if m.ConversationID == "" {
		missing = append(missing, "message.conversationId")
	}
	if m.ConversationType != SingleChat && m.ConversationType != GroupChat {
		missing = append(missing, "message.conversationType")
	}
	if m.SenderID == "" {
		missing = append(missing, "message.senderId")
	}
	if m.Webhook == "" {
		missing = append(missing, "message.webhook")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing or invalid %s", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	return nil
}

// Image is a picture a user sent, downloaded, for a model that can see it.
// Only the reply function holds one: events carry download codes, never
// pictures, so that an event stays far below FC's 128 KB payload limit.
type Image struct {
	// MediaType is the picture's MIME type, such as image/png.
	MediaType string
	Data      []byte
}

// Turn is one question and the model's answer to it. A turn is stored only
// once the model has answered, so a history never holds a question alone.
type Turn struct {
	MessageID  string    `json:"messageId"`
	Question   string    `json:"question"`
	Answer     string    `json:"answer"`
	AskedAt    time.Time `json:"askedAt"`
	AnsweredAt time.Time `json:"answeredAt"`
}

// Receipt is what the robot has done so far for one message, kept so that a
// message delivered again (DingTalk redelivers, FC delivers at least once
// and retries) is answered once: the model is not asked again for an answer
// already given, and an answer already posted is not posted again.
type Receipt struct {
	// Answer is the reply decided for the message, once there is one.
	Answer   string
	Answered bool
	// PartsSent counts the pieces of Answer already posted (a long answer
	// goes out in several messages).
	PartsSent int
	// Delivered is set once every piece has been posted.
	Delivered bool
	// ToolRounds counts the rounds of tool calls recorded for the
	// message's answer, one whose calls were begun but not finished
	// included: an attempt that finds any replays them.
	ToolRounds int
}
