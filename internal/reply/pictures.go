package reply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// maxPictures bounds the pictures of one message sent to the model: each is
// billed as hundreds of tokens, and a richText message can hold many.
const maxPictures = 8

// maxMessagePictureBytes bounds the bytes of the pictures of one message:
// what one request to the model may carry (openai.MaxImageBytes).
const maxMessagePictureBytes = 20 << 20

// pictureBytesInFlight bounds the bytes of the pictures an instance holds
// at once, across the messages it answers: a picture is held, as its
// bytes, from its download until the model answered (its base64 is made
// as the request is sent), and the function has 128 MB, a child reading a
// file included. A message whose pictures do not fit waits for those of
// others to be done with.
const pictureBytesInFlight = maxMessagePictureBytes

const pictureUnavailableText = "抱歉，没能读取你发的图片，请稍后重发，或用文字描述你的问题。"

// tooManyPicturesText answers a message with more pictures than one
// question takes.
func tooManyPicturesText(sent int) string {
	return fmt.Sprintf("抱歉，一次最多能看 %d 张图片，你发了 %d 张。请分几次发，每次不超过 %d 张。", maxPictures, sent, maxPictures)
}

// picturesTooLargeText answers pictures larger together than one question
// takes.
func picturesTooLargeText(sent int) string {
	return fmt.Sprintf("抱歉，这 %d 张图片加起来太大了（一次最多 %d MB）。请压缩后再发，或分几次发。", sent, maxMessagePictureBytes>>20)
}

// picturesDoNotFitText answers pictures that, beside the question and the
// system prompt, exceed the context window: fit is how many would fit.
func picturesDoNotFitText(sent, fit, window int) string {
	if fit == 0 {
		return fmt.Sprintf("抱歉，图片加上问题超出了我一次能读的长度（约 %d 个 token，每张图片约占 %d 个）。请缩短问题后再发。", window, chat.ImageTokens(1))
	}
	return fmt.Sprintf("抱歉，图片太多了：每张图片约占 %d 个 token，加上你的问题，我一次最多能看 %d 张，你发了 %d 张。请少发几张，或分几次问。", chat.ImageTokens(1), fit, sent)
}

// heldPictures are a message's pictures, downloaded, and their share of
// the instance's pictureBytesInFlight, which free gives back.
type heldPictures struct {
	images []chat.Image
	free   func()
}

// pictures downloads the pictures of m (codes, its own and those it
// quotes) for the vision model, after the checks that need no download:
// their number, and, with the sizes the storage announces before any
// picture is read, their bytes. The caller frees what it holds once the
// model answered. When the robot cannot look at them (no VISION_MODEL,
// too many, too large, or a picture it cannot get) it returns what to tell
// the user instead. The error is retryable.
//
// fit is how many pictures fit in the context window, -1 for any number.
func (s *Prompter) pictures(ctx context.Context, log *slog.Logger, m chat.Message, codes []string, fit int) (heldPictures, string, error) {
	none := heldPictures{free: func() {}}
	if len(codes) == 0 || !s.seesPictures() {
		return none, "", nil
	}
	if len(codes) > maxPictures {
		log.WarnContext(ctx, "more pictures than a question takes", "pictures", len(codes), "max", maxPictures)
		return none, tooManyPicturesText(len(codes)), nil
	}
	if fit >= 0 && len(codes) > fit {
		log.WarnContext(ctx, "the pictures do not fit the context window", "pictures", len(codes), "fit", fit, "window", s.window)
		return none, picturesDoNotFitText(len(codes), fit, s.window), nil
	}
	// The room on the instance first, for the most these pictures may
	// be, so that no download waits half done for it; what their sizes
	// say they need less is given back once the storage told them.
	reserve := min(int64(len(codes))*s.maxPictureBytes, maxMessagePictureBytes)
	if err := s.pictureBytes.Acquire(ctx, reserve); err != nil {
		return none, "", retry.Mark(fmt.Errorf("wait for room for the pictures: %w", err))
	}
	held := heldPictures{free: func() { s.pictureBytes.Release(reserve) }}
	refuse := func(text string, err error) (heldPictures, string, error) {
		held.free()
		return none, text, err
	}
	// Every picture's answer, none of their bodies read yet.
	files := make([]chat.File, 0, len(codes))
	defer func() {
		for _, f := range files {
			f.Body.Close()
		}
	}()
	var announced, need int64
	for i, code := range codes {
		f, err := s.downloads.Download(ctx, m, code, s.maxPictureBytes)
		switch {
		case errors.Is(err, chat.ErrFileTooLarge):
			log.WarnContext(ctx, "picture too large", "picture", i, "maxBytes", s.maxPictureBytes)
			return refuse(fmt.Sprintf("抱歉，图片太大了（上限 %d MB），请压缩后再发。", s.maxPictureBytes>>20), nil)
		case retry.Retryable(err):
			return refuse("", fmt.Errorf("download picture %d: %w", i, err))
		case err != nil:
			log.ErrorContext(ctx, "could not download a picture", "picture", i, "err", err)
			return refuse(pictureUnavailableText, nil)
		}
		files = append(files, f)
		if !strings.HasPrefix(f.MediaType, "image/") {
			log.WarnContext(ctx, "a picture is not an image", "picture", i, "contentType", f.MediaType)
			return refuse(pictureUnavailableText, nil)
		}
		if f.Size >= 0 {
			announced += f.Size
			need += f.Size
		} else {
			need += s.maxPictureBytes
		}
	}
	if announced > maxMessagePictureBytes {
		log.WarnContext(ctx, "pictures too large together", "pictures", len(codes), "bytes", announced, "maxBytes", maxMessagePictureBytes)
		return refuse(picturesTooLargeText(len(codes)), nil)
	}
	if need = min(need, maxMessagePictureBytes); need < reserve {
		s.pictureBytes.Release(reserve - need)
		reserve = need
	}
	var total int64
	for i, f := range files {
		data, err := readPicture(f, maxMessagePictureBytes-total)
		switch {
		case errors.Is(err, chat.ErrFileTooLarge):
			log.WarnContext(ctx, "picture too large", "picture", i, "maxBytes", s.maxPictureBytes)
			return refuse(fmt.Sprintf("抱歉，图片太大了（上限 %d MB），请压缩后再发。", s.maxPictureBytes>>20), nil)
		case errors.Is(err, errPicturesTooLarge):
			log.WarnContext(ctx, "pictures too large together", "pictures", len(codes), "maxBytes", maxMessagePictureBytes)
			return refuse(picturesTooLargeText(len(codes)), nil)
		case err != nil:
			log.ErrorContext(ctx, "could not download a picture", "picture", i, "err", err)
			return refuse(pictureUnavailableText, nil)
		}
		total += int64(len(data))
		held.images = append(held.images, chat.Image{MediaType: f.MediaType, Data: data})
	}
	return held, "", nil
}

// errPicturesTooLarge: a message's pictures are more than
// maxMessagePictureBytes together.
var errPicturesTooLarge = errors.New("the pictures are too large together")

// readPicture reads a picture's body, at most left bytes of it (more is
// errPicturesTooLarge), into a buffer of the size announced. A body that
// goes on past its announced size, or past MaxPictureBytes, is
// chat.ErrFileTooLarge.
func readPicture(f chat.File, left int64) ([]byte, error) {
	if f.Size > left {
		return nil, errPicturesTooLarge
	}
	if f.Size >= 0 {
		data := make([]byte, f.Size)
		if _, err := io.ReadFull(f.Body, data); err != nil {
			return nil, err
		}
		// The body must end there; the storage that said less than it
		// sends is refused as a larger one is.
		if n, _ := f.Body.Read(make([]byte, 1)); n > 0 {
			return nil, chat.ErrFileTooLarge
		}
		return data, nil
	}
	data, err := io.ReadAll(io.LimitReader(f.Body, left+1))
	if err == nil && int64(len(data)) > left {
		err = errPicturesTooLarge
	}
	return data, err
}
