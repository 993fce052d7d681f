package openai

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
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
// text when it is not blank, then one image_url part per picture, a data
// URL whose base64 is a mark in the message, put in by inline as the
// request is sent.
func userMessage(question string, images []chat.Image) (goopenai.ChatCompletionMessage, *inlineImages, error) {
	if len(images) == 0 {
		return goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, Content: question}, nil, nil
	}
	if err := checkImages(images); err != nil {
		return goopenai.ChatCompletionMessage{}, nil, err
	}
	inline := &inlineImages{}
	nonce := rand.Text()
	parts := make([]goopenai.ChatMessagePart, 0, 1+len(images))
	if strings.TrimSpace(question) != "" {
		parts = append(parts, goopenai.ChatMessagePart{Type: goopenai.ChatMessagePartTypeText, Text: question})
	}
	for i, img := range images {
		mediaType, _ := imageMediaType(img)
		mark := fmt.Sprintf("fcrobot-picture-%s-%d", nonce, i)
		inline.marks = append(inline.marks, []byte(mark))
		inline.data = append(inline.data, img.Data)
		parts = append(parts, goopenai.ChatMessagePart{
			Type: goopenai.ChatMessagePartTypeImageURL,
			ImageURL: &goopenai.ChatMessageImageURL{
				URL:    "data:" + mediaType + ";base64," + mark,
				Detail: goopenai.ImageURLDetailAuto,
			},
		})
	}
	return goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, MultiContent: parts}, inline, nil
}

// inlineImages are the pictures of a request, which is marshaled with a
// mark in place of each picture's base64: as the request is sent, its body
// is the marshaled JSON with each mark replaced by the picture's base64,
// encoded from its bytes as the body is read. So a picture is held once,
// as its bytes, rather than four times over: as base64 (a third more),
// that base64 copied into the data URL, the JSON holding it, and the
// buffer the JSON is built in. A base64 string needs no escaping in JSON.
type inlineImages struct {
	marks [][]byte
	data  [][]byte
}

// into is req with each mark in its body replaced by its picture's
// base64.
func (in *inlineImages) into(req *http.Request) (*http.Request, error) {
	marked, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	body := func() (io.ReadCloser, int64, error) {
		parts := make([]io.Reader, 0, 2*len(in.marks)+1)
		rest, size := marked, int64(len(marked))
		for i, mark := range in.marks {
			at := bytes.Index(rest, mark)
			if at < 0 {
				return nil, 0, fmt.Errorf("openai: picture %d is not in the request", i+1)
			}
			parts = append(parts, bytes.NewReader(rest[:at]), &base64Reader{src: in.data[i]})
			rest = rest[at+len(mark):]
			size += int64(base64.StdEncoding.EncodedLen(len(in.data[i])) - len(mark))
		}
		parts = append(parts, bytes.NewReader(rest))
		return io.NopCloser(io.MultiReader(parts...)), size, nil
	}
	b, size, err := body()
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body, out.ContentLength = b, size
	out.GetBody = func() (io.ReadCloser, error) {
		b, _, err := body()
		return b, err
	}
	return out, nil
}

// base64Reader reads the standard base64 of src, encoding as it is read.
type base64Reader struct {
	src     []byte
	group   [4]byte
	pending []byte // the rest of a group a short read could not take
}

func (r *base64Reader) Read(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		switch {
		case len(r.pending) > 0:
			k := copy(p, r.pending)
			r.pending, p, n = r.pending[k:], p[k:], n+k
		case len(r.src) == 0:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case len(p) >= 4:
			// Whole groups of 3 bytes, or the end, padded.
			take := min(len(p)/4*3, len(r.src))
			base64.StdEncoding.Encode(p, r.src[:take])
			w := base64.StdEncoding.EncodedLen(take)
			r.src, p, n = r.src[take:], p[w:], n+w
		default:
			take := min(3, len(r.src))
			base64.StdEncoding.Encode(r.group[:], r.src[:take])
			r.src, r.pending = r.src[take:], r.group[:]
		}
	}
	return n, nil
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
