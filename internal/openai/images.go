package openai

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"strings"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// MaxImageBytes bounds the pictures of one request, counted before base64
// encoding, which adds a third. OpenAI takes 20 MB a picture and about
// 50 MB a request; other providers take less, and a request this size
// already takes long to upload from a function.
const MaxImageBytes = 20 << 20

// userMessage is the question as the last user message. Without pictures
// its content is a plain string, the only form many OpenAI-compatible
// providers accept. With pictures it is a list of parts: the question's
// text when it is not blank, then one image_url part per picture.
func userMessage(question string, images []chat.Image) (goopenai.ChatCompletionMessage, error) {
	if len(images) == 0 {
		return goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, Content: question}, nil
	}
	if err := checkImages(images); err != nil {
		return goopenai.ChatCompletionMessage{}, err
	}
	parts := make([]goopenai.ChatMessagePart, 0, 1+len(images))
	if strings.TrimSpace(question) != "" {
		parts = append(parts, goopenai.ChatMessagePart{Type: goopenai.ChatMessagePartTypeText, Text: question})
	}
	for _, img := range images {
		mediaType, _ := imageMediaType(img)
		parts = append(parts, goopenai.ChatMessagePart{
			Type: goopenai.ChatMessagePartTypeImageURL,
			ImageURL: &goopenai.ChatMessageImageURL{
				URL:    "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(img.Data),
				Detail: goopenai.ImageURLDetailAuto,
			},
		})
	}
	return goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, MultiContent: parts}, nil
}

// checkImages refuses pictures no provider would take, before anything is
// sent. Its messages name pictures by position and never hold their data.
func checkImages(images []chat.Image) error {
	invalid := func(format string, args ...any) error {
		return &Error{Kind: chat.ErrModelRejected, Reason: chat.ErrInvalidImages, Message: fmt.Sprintf(format, args...)}
	}
	total := 0
	for i, img := range images {
		if len(img.Data) == 0 {
			return invalid("picture %d of %d is empty", i+1, len(images))
		}
		if mediaType, ok := imageMediaType(img); !ok {
			return invalid("picture %d of %d is not a picture (its content looks like %s)", i+1, len(images), mediaType)
		}
		total += len(img.Data)
	}
	if total > MaxImageBytes {
		return invalid("the %d pictures total %.1f MiB, more than the %d MiB a request may carry",
			len(images), float64(total)/(1<<20), MaxImageBytes>>20)
	}
	return nil
}

// imageMediaType is the media type to send for img and whether it is a
// picture's. The bytes win over the declared type: downloads are often
// declared application/octet-stream, and some providers refuse a data URL
// whose type does not match its content. A declared image type is kept
// only for bytes that sniffing cannot place (HEIC, AVIF...), never for
// bytes it knows to be something else, such as text or a PDF.
func imageMediaType(img chat.Image) (string, bool) {
	const unknown = "application/octet-stream"
	sniffed, _, _ := strings.Cut(http.DetectContentType(img.Data), ";")
	if strings.HasPrefix(sniffed, "image/") {
		return sniffed, true
	}
	if sniffed != unknown {
		return sniffed, false
	}
	if declared, _, err := mime.ParseMediaType(img.MediaType); err == nil && strings.HasPrefix(declared, "image/") {
		return declared, true
	}
	return sniffed, false
}
