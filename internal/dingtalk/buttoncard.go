package dingtalk

import (
	"context"
	"time"
)

// buttonCard is a card with buttons (chat.Buttons): beside the answer it
// streams, it asks whether a tool may run, with its Allow and Deny
// buttons, and names itself so that a press on it finds its answer.
type buttonCard struct {
	*cardDraft
	// ctx is the answer's: a question asked outlives no answer.
	ctx context.Context
	// update sets the card's variables for everyone (Outbox.UpdateCard).
	update func(ctx context.Context, vars map[string]string) error
}

// askTimeout bounds one update of the question's variables.
const askTimeout = 10 * time.Second

// CardID is the card's outTrackId, which a press on it carries.
func (b buttonCard) CardID() string { return b.id }

// Ask shows question and the Allow and Deny buttons to everyone who sees
// the card, once it exists: one metered OpenAPI call.
func (b buttonCard) Ask(question string) bool {
	return b.set(map[string]string{CardVarConfirmVisible: cardShown, CardVarConfirmText: question, CardVarConfirmCall: b.id})
}

// Asked hides the buttons and shows how the question ended.
func (b buttonCard) Asked(outcome string) {
	b.set(map[string]string{CardVarConfirmVisible: cardHidden, CardVarConfirmText: outcome})
}

// set updates the card's variables for everyone, once the card exists,
// and reports whether it did; a card that failed, or an update refused,
// leaves the answer as it is (the question then goes as a message).
func (b buttonCard) set(vars map[string]string) bool {
	select {
	case <-b.made:
	case <-b.done:
		return false // the card was never made
	case <-b.ctx.Done():
		return false
	}
	ctx, cancel := context.WithTimeout(b.ctx, askTimeout)
	defer cancel()
	return b.update(ctx, vars) == nil
}
