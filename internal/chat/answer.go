package chat

import (
	"errors"
	"io"
)

// Answer is what the robot says to one message, as the reply function hands
// it to whatever delivers it to the conversation.
type Answer struct {
	// To is the message answered: where the answer goes, and whom it
	// mentions.
	To Message
	// Text is the answer as the user reads it, in markdown.
	Text string
	// Draft, when not nil, is where the answer was shown while the model
	// wrote it; delivering the answer finishes it.
	Draft Draft
	// Delivered counts the pieces of Text an earlier attempt delivered
	// (a long answer goes out in several messages); they are not delivered
	// again.
	Delivered int
	// OnDelivered, when not nil, is told each piece (from 0) once delivery
	// is done with it: delivered, or lost to a refusal no retry can mend.
	// A retry after a failure then delivers only what is missing.
	OnDelivered func(piece int)
}

// Draft is an answer on screen while the model writes it.
type Draft interface {
	// Show puts the text written so far on screen, as soon as the pace of
	// updates allows; an empty text says that the answer is coming. It
	// never blocks.
	Show(soFar string)
}

// File is a file a user sent the robot, being downloaded: the host has
// answered, and its body is read as it is consumed, so that a large file
// need not be held in memory.
type File struct {
	// MediaType is the file's MIME type, such as image/png.
	MediaType string
	// Size is the file's size as the host announced it before its body,
	// or -1 when it did not.
	Size int64
	// Body is the file's content; the receiver closes it. Reading past
	// the limit the download was asked for fails with an error matching
	// ErrFileTooLarge.
	Body io.ReadCloser
}

// ErrFileTooLarge is matched by the error of a download refused because the
// file is larger than the robot reads.
var ErrFileTooLarge = errors.New("file too large")

// Buttons is a draft with buttons (an AI card with the robot's own
// template): a press on it names it by CardID, and it can ask a person
// whether the model may make a call, the question showing until Asked
// says how it ended. Ask reports false when the card could not show the
// question (it failed, or refused the update).
type Buttons interface {
	Draft
	CardID() string
	Ask(question string) bool
	Asked(outcome string)
}
