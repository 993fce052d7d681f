package dingtalk

import "maps"

// The variables of the card template's buttons (docs/cards.md, "The
// buttons"), beside its markdown variable (CARD_CONTENT_KEY). All are
// strings, as cardParamMap takes only strings: a button's visibility is
// bound to "variable equals true" in DingTalk's card builder.
const (
	// CardVarStopVisible shows the Stop button (params.action "stop")
	// while the answer streams.
	CardVarStopVisible = "stop_visible"
	// CardVarFeedbackVisible shows the 👍 and 👎 buttons ("like",
	// "dislike") and their counts once the answer is finished.
	CardVarFeedbackVisible = "feedback_visible"
	// CardVarLikes and CardVarDislikes are the votes so far, as decimal
	// numbers.
	CardVarLikes    = "likes"
	CardVarDislikes = "dislikes"
	// CardVarConfirmVisible shows the question whether a tool may run and
	// its Allow and Deny buttons ("approve", "deny").
	CardVarConfirmVisible = "confirm_visible"
	// CardVarConfirmText is that question: the tool and its arguments.
	CardVarConfirmText = "confirm_text"
	// CardVarConfirmCall names the call asked about: both buttons send it
	// back as params.call.
	CardVarConfirmCall = "confirm_call"
)

// The values of a visibility variable.
const (
	cardShown  = "true"
	cardHidden = "false"
)

// cardButtonsStreaming are the buttons' variables of a card created for an
// answer the model is writing: Stop alone.
func cardButtonsStreaming() map[string]string {
	return map[string]string{
		CardVarStopVisible:     cardShown,
		CardVarFeedbackVisible: cardHidden,
		CardVarLikes:           "0",
		CardVarDislikes:        "0",
		CardVarConfirmVisible:  cardHidden,
		CardVarConfirmText:     "",
		CardVarConfirmCall:     "",
	}
}

// cardButtonsFinished are set once the card holds the whole answer
// (stopped or not): no Stop, the votes.
func cardButtonsFinished() map[string]string {
	return map[string]string{
		CardVarStopVisible:     cardHidden,
		CardVarFeedbackVisible: cardShown,
		CardVarConfirmVisible:  cardHidden,
	}
}

// cardButtonsEnded are set on a card that does not hold the answer (it
// failed, or its attempt died and the answer follows below): no button.
func cardButtonsEnded() map[string]string {
	return map[string]string{
		CardVarStopVisible:     cardHidden,
		CardVarFeedbackVisible: cardHidden,
		CardVarConfirmVisible:  cardHidden,
	}
}

// withButtons returns data with the buttons' variables of a new card.
func withButtons(data map[string]string) map[string]string {
	out := cardButtonsStreaming()
	maps.Copy(out, data)
	return out
}
