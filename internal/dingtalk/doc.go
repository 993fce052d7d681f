// Package dingtalk is the robot's adapter to DingTalk (docs/protocols.md §1
// to §7, §18).
//
// For the conversation function it verifies the signature of a callback
// (Verifier) and turns the callback's body into a chat.Message
// (ParseCallback): its text, the pictures and files it carries, the
// message it quotes and the chat records forwarded in it, within the room
// the event to the reply function allows. For the presses of the buttons
// of the robot's cards it verifies their signature
// (CardCallbackVerifier), reads them (ParseCardCallback) and tells the
// robot's cards from forged ones (CardIDs). For the reply function it is the
// outbox the answers go to (Outbox): it renders an answer as DingTalk's
// markdown, splits it into messages that fit, @-mentions the asker in a
// group, posts to the message's session webhook (WebhookClient) or, once
// that has expired, through the robot OpenAPI (OpenAPI), streams into an AI
// card, and sorts DingTalk's refusals into those a retry can mend and those
// it cannot; with buttons (docs/protocols.md §18) it creates cards for HTTP
// callbacks, registers their URL (RegisterCardCallback) and updates them
// for everyone (UpdateCardData, Outbox.UpdateCard). It downloads the
// pictures and files users send (Attachments) and puts the "thinking"
// badge on a question while it is answered (Reactions).
//
// It speaks to the rest of the robot in package chat's terms and knows
// nothing of FC, the model or the bucket; no other package speaks
// DingTalk's wire protocol.
package dingtalk
