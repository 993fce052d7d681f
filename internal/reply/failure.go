package reply

import (
	"errors"
	"fmt"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// noAnswerText answers a reasoning model that only reasoned.
const noAnswerText = "抱歉，大模型只给出了思考过程，没有给出回答，请换个问法再试。"

// failureText tells the user, in a sentence, why no answer came: enough to
// know whether to wait, rephrase or call the administrator. What the
// provider said goes to the log (scrubbed by the model's adapter), never to
// the user: it is the operator's to read, and a provider may echo part of
// a key or another user's words.
func (w *Writer) failureText(err error) string {
	switch {
	case errors.Is(err, errSilent):
		return fmt.Sprintf("抱歉，大模型 %d 秒没有回应，请稍后再试。", int(w.timeout.Seconds()))
	case errors.Is(err, errOutOfTime):
		// It reasoned all the while and wrote no answer in the time there was.
		return "抱歉，大模型思考太久，在这次能用的时间里没有写出回答。请稍后再试，或把问题拆小一些。"
	case errors.Is(err, chat.ErrModelTimeout):
		return fmt.Sprintf("抱歉，大模型在 %d 秒内没有回答，请稍后再试，或把问题拆小一些。", int(w.timeout.Seconds()))
	case errors.Is(err, chat.ErrModelUnauthorized):
		return "抱歉，大模型服务拒绝了我们的 API Key（鉴权失败），请联系管理员检查配置。"
	case errors.Is(err, chat.ErrModelRateLimited):
		return "抱歉，大模型服务当前请求过多或额度已用完（限流），请稍后再试。"
	case errors.Is(err, chat.ErrModelUnavailable):
		return "抱歉，大模型服务暂时不可用，请稍后再试。"
	case errors.Is(err, chat.ErrModelEmptyAnswer):
		return "抱歉，大模型这次没有给出回答，请换个问法再试。"
	case errors.Is(err, chat.ErrImagesRefused):
		return "抱歉，看图的大模型（VISION_MODEL）不接受图片，请联系管理员换一个能看图的模型。"
	case errors.Is(err, chat.ErrContextTooLong):
		return `抱歉，这次的对话超出了大模型一次能读的长度。请发送 \clear 清除对话记录，或把问题缩短后再试。`
	case errors.Is(err, chat.ErrInvalidImages):
		return "抱歉，这些图片太大或格式不对，没法交给大模型，请换一张再试。"
	case errors.Is(err, chat.ErrModelUnknown):
		return "抱歉，大模型服务不认识配置的模型名称（或这个 API Key 不能使用它），请联系管理员检查模型设置（MODEL、MODELS）。"
	case errors.Is(err, chat.ErrToolRecord):
		return "抱歉，这条消息的工具调用记录已损坏，没法接着回答。请重新提问（原因已记入日志）。"
	case errors.Is(err, chat.ErrModelRejected):
		return "抱歉，大模型服务拒绝了这个请求，请联系管理员检查模型配置（原因已记入日志）。"
	default:
		return "抱歉，调用大模型时出错了，请稍后再试。"
	}
}
