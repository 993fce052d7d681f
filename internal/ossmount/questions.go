package ossmount

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Questions count, per sender and day, the questions the model answered
// and the tokens they cost, across instances, in the bucket: one write-once
// object per answered message, whose name carries its tokens, so that one
// listing gives a sender's day.
//
//	<root>/questions/v1/<yyyymmdd>/<sender>/<message>.<prompt>.<completion>.json
//
// <sender> is the hash of the sender's key, <message> that of the message
// id: a message recorded twice (a retry after a failure to post) is
// counted once. The day is the sender's day in Asia/Shanghai.
type Questions struct {
	objects Objects
}

const questionsDir = "questions/" + versionDir

// NewQuestions returns the questions kept under root, the OSS mount point,
// read and written through objects, or the mount itself when that is nil.
func NewQuestions(root string, objects Objects) (*Questions, error) {
	objects, err := objectsAt(root, objects)
	if err != nil {
		return nil, err
	}
	return &Questions{objects: objects}, nil
}

func questionsFolder(sender, day string) (string, error) {
	if len(day) != 8 || strings.Trim(day, "0123456789") != "" {
		return "", fmt.Errorf("ossmount: %w: day %q is not yyyymmdd", ErrInvalidArgument, day)
	}
	return path.Join(questionsDir, day, ownerKey(sender)), nil
}

// Record counts the answer to message for sender on day (yyyymmdd).
func (q *Questions) Record(ctx context.Context, sender, day, message string, u chat.Usage) error {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%d.%d%s", messageKey(message), max(u.Prompt, 0), max(u.Completion, 0), fileSuffix)
	data := fmt.Appendf(nil, `{"version":%d,"prompt":%d,"completion":%d}`, formatVersion, u.Prompt, u.Completion)
	if err := q.objects.Create(ctx, path.Join(dir, name), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ossmount: record a question: %w", err)
	}
	return nil
}

// Day sums sender's answered questions and their tokens on day, in one
// listing.
func (q *Questions) Day(ctx context.Context, sender, day string) (chat.DayUsage, error) {
	dir, err := questionsFolder(sender, day)
	if err != nil {
		return chat.DayUsage{}, err
	}
	names, err := q.objects.List(ctx, dir, 0)
	if err != nil {
		return chat.DayUsage{}, fmt.Errorf("ossmount: questions: %w", err)
	}
	var d chat.DayUsage
	seen := map[string]bool{}
	for _, name := range names {
		parts := strings.Split(strings.TrimSuffix(name, fileSuffix), ".")
		if len(parts) != 3 || seen[parts[0]] || !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		p, perr := strconv.Atoi(parts[1])
		c, cerr := strconv.Atoi(parts[2])
		if perr != nil || cerr != nil {
			continue
		}
		seen[parts[0]] = true
		d.Questions++
		d.Prompt += p
		d.Completion += c
	}
	return d, nil
}
