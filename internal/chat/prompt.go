package chat

// Prompt is everything a model is asked at once: the instructions, what was
// said before, and the new question with what came with it.
type Prompt struct {
	// System is the system prompt; empty for none.
	System string
	// History holds the earlier turns, oldest first.
	History []Turn
	// Question is what the user asks now. It may be empty when Images
	// carry the question.
	Question string
	// Images are the pictures sent with the question, for a model that
	// can see.
	Images []Image
	// Model, when not empty, names the model to ask instead of the
	// client's own.
	Model string
	// Tools are what the model may call while it answers; none for a
	// plain answer.
	Tools []Tool
	// Rounds are the tool rounds of this question so far, oldest first:
	// they follow the question.
	Rounds []ToolRound
}

// Settings are what a conversation changed of the robot's defaults.
type Settings struct {
	// System replaces SYSTEM_PROMPT when HasSystem.
	System    string
	HasSystem bool
	// Model, when not empty, replaces MODEL.
	Model string
}
