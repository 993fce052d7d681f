package dingtalk

import (
	"cmp"
	"context"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Attachments downloads the files of received messages, for the reply
// function: pictures and files (docs/protocols.md §6).
type Attachments struct {
	// OpenAPI resolves a message's download code.
	OpenAPI *OpenAPI
	// RobotCode is used for a message that carries none.
	RobotCode string
}

// Download starts fetching the file that code names in m, at most
// maxBytes of it (OpenMessageFile): a larger one is an error matching
// chat.ErrFileTooLarge, before its body is read when the storage announces
// its size; a refusal worth a retry is retryable (retry.Retryable).
func (a Attachments) Download(ctx context.Context, m chat.Message, code string, maxBytes int64) (chat.File, error) {
	f, err := a.OpenAPI.OpenMessageFile(ctx, cmp.Or(m.RobotCode, a.RobotCode), code, maxBytes)
	if err != nil {
		return chat.File{}, err
	}
	return chat.File{MediaType: f.ContentType, Size: f.Size, Body: f.Body}, nil
}
