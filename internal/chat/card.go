package chat

import "time"

// CardRecord is what the robot keeps of a card it made with buttons: the
// question the card answers. A press carries only the card's outTrackId
// and the presser's userId; the record tells whose question it was, and
// so who may press what and whose answer, history and tool a press is
// about.
type CardRecord struct {
	// MessageID is the id of the message the card answers.
	MessageID string
	// ConversationID and ConversationType are the message's conversation.
	ConversationID   string
	ConversationType ConversationType
	// Owner is the asker's history owner in the conversation
	// (Message.HistoryOwner): whose \stop requests and tool decisions a
	// press writes. It holds user-controlled strings: a store must not use
	// it as a path as it is.
	Owner string
	// AskerStaffID is the asker's staff id (Message.SenderStaffID), which
	// a press's userId is compared with; empty for an external user.
	AskerStaffID string
	// SenderID is the asker's senderId (Message.SenderID).
	SenderID string
	// AskedAt is the question's createAt (Message.CreatedAt).
	AskedAt time.Time
}
