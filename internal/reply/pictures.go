package reply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// maxPictures bounds the pictures of one message sent to the model: each is
// billed as hundreds of tokens, and a richText message can hold many.
const maxPictures = 8

const pictureUnavailableText = "抱歉，没能读取你发的图片，请稍后重发，或用文字描述你的问题。"

// pictures downloads the pictures of m (codes, its own and those it
// quotes) for the vision model. When the
// robot cannot look at them (no VISION_MODEL, or a picture it cannot get)
// it returns what to tell the user instead; a message with words as well
// as pictures is then answered from its words. The error is retryable.
func (s *Service) pictures(ctx context.Context, log *slog.Logger, m chat.Message, codes []string) ([]chat.Image, string, error) {
	if len(codes) == 0 || s.cfg.Vision == nil || s.cfg.Files == nil {
		return nil, "", nil
	}
	if len(codes) > maxPictures {
		log.WarnContext(ctx, "message has more pictures than are sent to the model", "pictures", len(codes), "sent", maxPictures)
		codes = codes[:maxPictures]
	}
	images := make([]chat.Image, 0, len(codes))
	for i, code := range codes {
		f, err := s.cfg.Files.Download(ctx, m, code, s.cfg.MaxPictureBytes)
		switch {
		case errors.Is(err, chat.ErrFileTooLarge):
			log.WarnContext(ctx, "picture too large", "picture", i, "maxBytes", s.cfg.MaxPictureBytes)
			return nil, fmt.Sprintf("抱歉，图片太大了（上限 %d MB），请压缩后再发。", s.cfg.MaxPictureBytes>>20), nil
		case retry.Retryable(err):
			return nil, "", fmt.Errorf("download picture %d: %w", i, err)
		case err != nil:
			log.ErrorContext(ctx, "could not download a picture", "picture", i, "err", err)
			return nil, pictureUnavailableText, nil
		case !strings.HasPrefix(f.MediaType, "image/"):
			log.WarnContext(ctx, "a picture is not an image", "picture", i, "contentType", f.MediaType)
			return nil, pictureUnavailableText, nil
		}
		images = append(images, chat.Image{MediaType: f.MediaType, Data: f.Data})
	}
	return images, "", nil
}
