package chat

import (
	"errors"
	"time"
)

// Attachment is a file a message carries, by the download code DingTalk
// gave it: the file itself is fetched only by the reply function.
type Attachment struct {
	// Name is the file's name as the user sent it (fileName).
	Name         string `json:"name"`
	DownloadCode string `json:"downloadCode"`
}

// Quote is the earlier message a message replies to, as far as the
// callback carries it. A quote of a quote is taken one level deep.
type Quote struct {
	MessageID string `json:"messageId,omitempty"`
	// Type is the quoted message's msgType (text, richText, picture,
	// file, interactiveCard, ...).
	Type string `json:"type,omitempty"`
	// FromRobot is set when the quoted message is the robot's own: one of
	// its answers.
	FromRobot bool      `json:"fromRobot,omitempty"`
	SentAt    time.Time `json:"sentAt,omitzero"`
	// Text is the quoted message's text, trimmed; Pictures the download
	// codes of its pictures; File the file it is.
	Text     string      `json:"text,omitempty"`
	Pictures []string    `json:"pictures,omitempty"`
	File     *Attachment `json:"file,omitempty"`
	// Media is set for a quoted voice message or video, which the robot
	// can neither play nor show the model: what it is and how long.
	Media *Media `json:"media,omitempty"`
	// Title is the title of a quoted forwarded chat (chatRecord), whose
	// summary is Text.
	Title string `json:"title,omitempty"`
	// Unseen is set when the callback said the message quotes another but
	// carried nothing of it the robot can read: the model, and so the
	// user, are told rather than the quote dropped.
	Unseen bool `json:"unseen,omitempty"`
}

// Media is a voice message or video, by kind and length only: its sound
// and pictures never reach the model.
type Media struct {
	// Kind is MediaAudio or MediaVideo.
	Kind string `json:"kind"`
	// Seconds is its length, rounded up; 0 when unknown.
	Seconds int `json:"seconds,omitempty"`
}

// The kinds of Media.
const (
	MediaAudio = "audio"
	MediaVideo = "video"
)

// Document is the text of a file a user sent, read for the model.
type Document struct {
	// MessageID is the message that carried the file.
	MessageID string `json:"messageId"`
	Name      string `json:"name"`
	Text      string `json:"text"`
	// Truncated is set when Text is only the start of the file's text.
	Truncated bool `json:"truncated,omitempty"`
	// SentAt is when the user sent the file.
	SentAt time.Time `json:"sentAt"`
}

// The kinds of failure to read a file's text, matched with errors.Is.
var (
	// ErrFileUnsupported: a kind of file the robot does not read.
	ErrFileUnsupported = errors.New("file type not supported")
	// ErrFileCorrupt: the file is damaged, or not what its name says.
	ErrFileCorrupt = errors.New("file corrupt")
	// ErrFileNoText: the file holds no text to read (a scanned PDF).
	ErrFileNoText = errors.New("file without text")
	// ErrFileEncrypted: the file is protected by a password.
	ErrFileEncrypted = errors.New("file encrypted")
	// ErrFileUnreadableFont: a PDF whose fonts map no text to characters.
	ErrFileUnreadableFont = errors.New("file fonts without a text mapping")
	// ErrFileTooComplex: reading the file took more memory, CPU time or
	// time than a file may take (a PDF nested so deep it overflows the
	// stack, a sheet that expands without end); the reader was stopped.
	ErrFileTooComplex = errors.New("file too complex to read within the limits")
	// ErrFileReaderUnavailable: files cannot be read here at all (the
	// system refuses the reader its process or its limits); no fault of
	// the file's, and for the operator to mend.
	ErrFileReaderUnavailable = errors.New("no reader for files here")
)
