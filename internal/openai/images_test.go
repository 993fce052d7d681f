package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// Pictures as DingTalk downloads them: the first bytes of real files, which
// is all that sniffing and the fake look at.
var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "private picture one"...)
	jpegBytes = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "private picture two"...)
)

func pngImage() chat.Image  { return chat.Image{MediaType: "image/png", Data: pngBytes} }
func jpegImage() chat.Image { return chat.Image{MediaType: "image/jpeg", Data: jpegBytes} }

func dataURLOf(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// rawServer answers every chat completion with "ok" and keeps the request
// bodies, for assertions on the exact JSON sent.
type rawServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newRawServer(t *testing.T) *rawServer {
	t.Helper()
	s := &rawServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// lastMessageContent returns the raw JSON content of the last message of
// the only request received.
func (s *rawServer) lastMessageContent(t *testing.T) json.RawMessage {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(s.bodies))
	}
	var body struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(s.bodies[0], &body); err != nil {
		t.Fatal(err)
	}
	return body.Messages[len(body.Messages)-1].Content
}

func TestCompleteWithImagesSendsParts(t *testing.T) {
	imagePart := func(mediaType string, data []byte) map[string]any {
		return map[string]any{"type": "image_url", "image_url": map[string]any{"url": dataURLOf(mediaType, data), "detail": "auto"}}
	}
	tests := []struct {
		name     string
		question string
		images   []chat.Image
		want     any // the decoded content of the last message
	}{
		{"no pictures: a plain string", "图里是什么？", nil, "图里是什么？"},
		{"empty pictures: a plain string", "图里是什么？", []chat.Image{}, "图里是什么？"},
		{
			"text first, then the pictures in order", "这两张图有什么不同？", []chat.Image{pngImage(), jpegImage()},
			[]any{
				map[string]any{"type": "text", "text": "这两张图有什么不同？"},
				imagePart("image/png", pngBytes),
				imagePart("image/jpeg", jpegBytes),
			},
		},
		{"blank question: the pictures alone", " \n ", []chat.Image{pngImage()}, []any{imagePart("image/png", pngBytes)}},
		{"empty question: the pictures alone", "", []chat.Image{pngImage()}, []any{imagePart("image/png", pngBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t)
			c := newTestClient(t, srv.URL, nil)

			if _, err := c.Complete(safeCtx(t), chat.Prompt{System: "sys", History: []chat.Turn{{Question: "q1", Answer: "a1"}}, Question: tt.question, Images: tt.images}); err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(srv.lastMessageContent(t), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("content = %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestImagesReachTheModel(t *testing.T) {
	// DingTalk downloads often come as application/octet-stream; the bytes
	// say what they are.
	images := []chat.Image{{MediaType: "application/octet-stream", Data: pngBytes}, {MediaType: "image/png", Data: jpegBytes}}
	want := []openaitest.Image{
		{MediaType: "image/png", Data: pngBytes, Detail: "auto"},
		{MediaType: "image/jpeg", Data: jpegBytes, Detail: "auto"},
	}
	history := []chat.Turn{{Question: "q1", Answer: "a1"}}
	calls := []struct {
		name string
		call func(*Client) (chat.Completion, error)
	}{
		{"Complete", func(c *Client) (chat.Completion, error) {
			return c.Complete(safeCtx(t), chat.Prompt{History: history, Question: "看图", Images: images})
		}},
		{"Stream", func(c *Client) (chat.Completion, error) {
			return c.Stream(safeCtx(t), chat.Prompt{History: history, Question: "看图", Images: images}, func(string) error { return nil })
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, func(_ context.Context, r openaitest.Request) openaitest.Response {
				return openaitest.Response{Content: r.LastUserMessage() + ": " + string(rune('0'+len(r.Images))) + " 张"}
			})
			c := newTestClient(t, srv.URL(), nil)

			got, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != "看图: 2 张" {
				t.Errorf("answer = %q", got)
			}
			req := srv.Requests()[0]
			if !reflect.DeepEqual(req.Images, want) {
				t.Errorf("images = %+v\nwant %+v", req.Images, want)
			}
			if req.EarlierTurns() != 1 {
				t.Errorf("%d earlier turns, want 1", req.EarlierTurns())
			}
		})
	}
}

func TestImagesRefused(t *testing.T) {
	refusal := func(status int, msg string) openaitest.Responder {
		return openaitest.Fixed(openaitest.Response{Status: status, ErrorMessage: msg})
	}
	tests := []struct {
		name    string
		respond openaitest.Responder
		images  []chat.Image
		want    error // the kind
		refused bool  // errors.Is(err, chat.ErrImagesRefused)
		wantMsg string
	}{
		{"OpenAI, a model that cannot see", openaitest.Fixed(openaitest.Response{RefuseImages: true, Content: "unused"}), []chat.Image{pngImage()},
			chat.ErrModelRejected, true, "image_url is only supported by certain models"},
		{"DeepSeek", refusal(400, "Failed to deserialize the JSON body into the target type: messages[1]: unknown variant `image_url`, expected `text` at line 1 column 120"), []chat.Image{pngImage()},
			chat.ErrModelRejected, true, "unknown variant"},
		{"DeepSeek, earlier", refusal(422, "Failed to deserialize the JSON body into the target type: messages[0]: data did not match any variant of untagged enum ChatCompletionRequestContent at line 1 column 286"), []chat.Image{pngImage()},
			chat.ErrModelRejected, true, "untagged enum"},
		{"DashScope, a text-only Qwen", refusal(400, "<400> InternalError.Algo.InvalidParameter: The provided messages input is invalid. The error info is [Unexpected item type in content.]"), []chat.Image{pngImage()},
			chat.ErrModelRejected, true, "Unexpected item type"},
		{"a local server", refusal(400, "This model does not support image input."), []chat.Image{pngImage()},
			chat.ErrModelRejected, true, "does not support image input"},
		{"another refusal with pictures", refusal(400, "This model's maximum context length is 8192 tokens."), []chat.Image{pngImage()},
			chat.ErrModelRejected, false, "maximum context length"},
		{"a bad picture is not a blind model", refusal(400, "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp']."), []chat.Image{pngImage()},
			chat.ErrModelRejected, false, "unsupported image"},
		{"the same words without pictures", refusal(400, "This model does not support image input."), nil,
			chat.ErrModelRejected, false, "does not support image input"},
		{"an outage is not a refusal", refusal(503, "vision backend does not support image input right now"), []chat.Image{pngImage()},
			chat.ErrModelUnavailable, false, "vision backend"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += " (stream)"
			}
			t.Run(name, func(t *testing.T) {
				srv := newFake(t, tt.respond)
				c := newTestClient(t, srv.URL(), nil)

				var err error
				if stream {
					_, err = c.Stream(safeCtx(t), chat.Prompt{Question: "看图", Images: tt.images}, func(string) error { return nil })
				} else {
					_, err = c.Complete(safeCtx(t), chat.Prompt{Question: "看图", Images: tt.images})
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				if got := errors.Is(err, chat.ErrImagesRefused); got != tt.refused {
					t.Errorf("errors.Is(%v, chat.ErrImagesRefused) = %v, want %v", err, got, tt.refused)
				}
				if e := asError(t, err); !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("message = %q, want the provider's %q", e.Message, tt.wantMsg)
				}
				if n := len(srv.Requests()); tt.want == chat.ErrModelRejected && n != 1 {
					t.Errorf("%d requests, want 1: a refusal is not retried", n)
				}
			})
		}
	}
}

func TestInvalidImagesAreNotSent(t *testing.T) {
	big := func(n int) chat.Image {
		return chat.Image{MediaType: "image/png", Data: append(append([]byte{}, pngBytes...), make([]byte, n-len(pngBytes))...)}
	}
	tests := []struct {
		name    string
		images  []chat.Image
		wantMsg string
	}{
		{"an empty picture", []chat.Image{pngImage(), {MediaType: "image/png"}}, "picture 2 of 2 is empty"},
		{"text declared as a picture", []chat.Image{{MediaType: "image/png", Data: []byte("private text, not a picture")}}, "picture 1 of 1 is not a picture (its content looks like text/plain)"},
		{"a PDF", []chat.Image{{MediaType: "application/pdf", Data: []byte("%PDF-1.7 private")}}, "looks like application/pdf"},
		{"unknown bytes without an image type", []chat.Image{{MediaType: "application/octet-stream", Data: []byte{0, 1, 2, 3}}}, "not a picture"},
		{"more than MaxImageBytes together", []chat.Image{big(MaxImageBytes / 2), big(MaxImageBytes/2 + 1)}, "the 2 pictures total 20.0 MiB, more than the 20 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("unused"))
			c := newTestClient(t, srv.URL(), nil)

			for _, call := range []func() error{
				func() error {
					_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "看图", Images: tt.images})
					return err
				},
				func() error {
					_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "看图", Images: tt.images}, func(string) error { return nil })
					return err
				},
			} {
				err := call()
				if !errors.Is(err, chat.ErrInvalidImages) || !errors.Is(err, chat.ErrModelRejected) {
					t.Fatalf("error = %v, want chat.ErrInvalidImages, a kind of chat.ErrModelRejected", err)
				}
				e := asError(t, err)
				if e.StatusCode != 0 || !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("status %d, message %q; want 0 and %q", e.StatusCode, e.Message, tt.wantMsg)
				}
				if strings.Contains(err.Error(), "private") {
					t.Errorf("error %q shows what the picture holds", err)
				}
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestImagesUpToMaxImageBytesAreAccepted(t *testing.T) {
	exactly := append(append([]byte{}, pngBytes...), make([]byte, MaxImageBytes-len(pngBytes))...)
	if err := checkImages([]chat.Image{{MediaType: "image/png", Data: exactly}}); err != nil {
		t.Errorf("a picture of exactly MaxImageBytes refused: %v", err)
	}
	if err := checkImages([]chat.Image{{MediaType: "image/png", Data: append(exactly, 0)}}); !errors.Is(err, chat.ErrInvalidImages) {
		t.Errorf("a picture of MaxImageBytes+1: error %v, want chat.ErrInvalidImages", err)
	}
}

func TestImageMediaType(t *testing.T) {
	heic := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")
	tests := []struct {
		name     string
		img      chat.Image
		want     string
		isAImage bool
	}{
		{"declared and sniffed agree", chat.Image{MediaType: "image/png", Data: pngBytes}, "image/png", true},
		{"octet-stream sniffed", chat.Image{MediaType: "application/octet-stream", Data: pngBytes}, "image/png", true},
		{"no declared type", chat.Image{Data: jpegBytes}, "image/jpeg", true},
		{"the bytes win", chat.Image{MediaType: "image/png", Data: jpegBytes}, "image/jpeg", true},
		{"a format sniffing does not know", chat.Image{MediaType: "image/HEIC; foo=bar", Data: heic}, "image/heic", true},
		{"unknown bytes, bad declared type", chat.Image{MediaType: "image/png,x", Data: heic}, "application/octet-stream", false},
		{"text", chat.Image{MediaType: "image/png", Data: []byte("hello")}, "text/plain", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := imageMediaType(tt.img)
			if got != tt.want || ok != tt.isAImage {
				t.Errorf("imageMediaType = %q, %v; want %q, %v", got, ok, tt.want, tt.isAImage)
			}
		})
	}
}

func TestImageDataNeverShows(t *testing.T) {
	// Validation errors of some servers echo the input they refused.
	echo := func(status int, withPrefix bool) openaitest.Responder {
		return func(_ context.Context, r openaitest.Request) openaitest.Response {
			url := base64.StdEncoding.EncodeToString(r.Images[0].Data)
			if withPrefix {
				url = dataURLOf(r.Images[0].MediaType, r.Images[0].Data)
			}
			return openaitest.Response{Status: status, ErrorMessage: "[{'type': 'value_error', 'msg': 'cannot read picture', 'input': {'url': '" + url + "'}}]"}
		}
	}
	tests := []struct {
		name    string
		respond openaitest.Responder
		want    error
	}{
		{"data URL echoed in a refusal", echo(400, true), chat.ErrModelRejected},
		{"bare base64 echoed in a refusal", echo(400, false), chat.ErrModelRejected},
		{"data URL echoed in every retried failure", echo(503, true), chat.ErrModelUnavailable},
	}
	// A picture long enough that a leak cannot hide in the truncation.
	img := chat.Image{MediaType: "image/png", Data: append(append([]byte{}, pngBytes...), bytes.Repeat([]byte("secret pixels "), 20)...)}
	encoded := base64.StdEncoding.EncodeToString(img.Data)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, tt.respond)
			var logs logtest.Buffer
			c := newTestClient(t, srv.URL(), func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })

			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "看图", Images: []chat.Image{img}})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if tt.want == chat.ErrModelUnavailable && !strings.Contains(logs.String(), "retrying") {
				t.Fatalf("no retry logged: %s", logs.String())
			}
			for where, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				// The PNG signature encodes the same in every picture; what
				// follows it is the user's.
				for i := 16; i+12 <= len(encoded); i += 12 {
					if strings.Contains(text, encoded[i:i+12]) {
						t.Fatalf("%s show the picture's data: %s", where, text)
					}
				}
			}
			if !strings.Contains(err.Error(), "cannot read picture") {
				t.Errorf("error %q lost the provider's words", err)
			}
		})
	}
}

// The pictures' base64 is encoded as the body is read, whatever the sizes
// of the reads the transport makes.
func TestBase64ReaderEncodesAsItIsRead(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 4, 5, 100, 4097, 1 << 16} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 7)
		}
		want := base64.StdEncoding.EncodeToString(src)
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "one byte": iotest.OneByteReader, "half": iotest.HalfReader,
		} {
			got, err := io.ReadAll(wrap(&base64Reader{src: src}))
			if err != nil || string(got) != want {
				t.Errorf("%d bytes read %s: %d bytes of base64, %v; want %d", size, name, len(got), err, len(want))
			}
		}
		if err := iotest.TestReader(&base64Reader{src: src}, []byte(want)); err != nil {
			t.Errorf("%d bytes: %v", size, err)
		}
	}
}

// FuzzBase64Reader: the streamed base64 is the standard encoding's, for
// any bytes and any size of read.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add([]byte("\x89PNG\r\n\x1a\n"), uint8(3))
	f.Add(bytes.Repeat([]byte{0xff}, 1000), uint8(7))
	f.Fuzz(func(t *testing.T, src []byte, readSize uint8) {
		r := &base64Reader{src: src}
		var got []byte
		buf := make([]byte, int(readSize)+1)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := base64.StdEncoding.EncodeToString(src); string(got) != want {
			t.Errorf("%d bytes read %d at a time: %q; want %q", len(src), len(buf), got, want)
		}
	})
}
