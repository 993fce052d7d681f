package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// attachmentMemory is the reply process's peak RSS with what users send
// that is large: pictures for VISION_MODEL, and a file at MAX_FILE_MB's
// largest, read by a child process.
type attachmentMemory struct {
	// Pictures is the peak RSS after n pictures of pictureMB sent at once,
	// by n.
	Pictures map[int]int64
	// File is the peak RSS after a text file of fileMB; FileChild the
	// peak RSS of the child that read it.
	File, FileChild int64
	// Failure is why it could not be measured.
	Failure string
}

const (
	pictureMB = 10
	fileMB    = 50
)

// pictureCounts are how many pictures are sent at once, each run on a new
// reply process.
func pictureCounts() []int { return []int{1, 2} }

// measureAttachments sends, to a new reply process each time, one and then
// two pictures of 10 MB at once (as many users), and a 50 MB text file
// (MAX_FILE_MB's largest), and reads the process's peak RSS after each.
func measureAttachments(ctx context.Context, binDir, dataDir string) (attachmentMemory, error) {
	m := attachmentMemory{Pictures: map[int]int64{}}
	for _, n := range pictureCounts() {
		peak, _, err := sendAttachments(ctx, binDir, fmt.Sprintf("%s-%d", dataDir, n), map[string]string{"VISION_MODEL": "vision-model"}, func(st *devstack.Stack, conv dingtalktest.Conversation, from dingtalktest.Sender) dingtalktest.Callback {
			code := st.DingTalk.AddFile(randomPicture(pictureMB<<20), "image/png")
			return st.DingTalk.PictureCallback(conv, from, code)
		}, n)
		if err != nil {
			return m, err
		}
		m.Pictures[n] = peak
	}
	text := []byte(strings.Repeat("这是一行用来测内存的文字，一共五十兆字节。\n", fileMB<<20/64))
	peak, log, err := sendAttachments(ctx, binDir, dataDir+"-file", map[string]string{"MAX_FILE_MB": fmt.Sprint(fileMB), "VERBOSE": "10"}, func(st *devstack.Stack, conv dingtalktest.Conversation, from dingtalktest.Sender) dingtalktest.Callback {
		return st.DingTalk.FileCallback(conv, from, st.DingTalk.AddFile(text, "text/plain"), "大.txt")
	}, 1)
	if err != nil {
		return m, err
	}
	m.File, m.FileChild = peak, childPeakRSS(log)
	return m, nil
}

// sendAttachments starts the robot with the app's key and env, sends n
// messages made by message at once from n users, waits for their answers,
// and returns the reply process's peak RSS and its log.
func sendAttachments(ctx context.Context, binDir, dataDir string, env map[string]string, message func(*devstack.Stack, dingtalktest.Conversation, dingtalktest.Sender) dingtalktest.Callback, n int) (_ int64, _ string, err error) {
	st, err := startStackWith(ctx, devstack.Config{
		BinDir: binDir, DataDir: dataDir, Model: openaitest.Answer(modelAnswer()), DingTalkApp: true, ReplyEnv: env,
	})
	if err != nil {
		return 0, "", err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		conv := dingtalktest.Conversation{ID: fmt.Sprint("cid-attachments-", i)}
		from := dingtalktest.Sender{ID: fmt.Sprint("sender-", i), StaffID: fmt.Sprint("staff-", i), Nick: "bench"}
		cb := message(st, conv, from)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.Deliver(waitCtx, cb.Body, time.Now()); err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = st.DingTalk.WaitPosts(waitCtx, st.DingTalk.Session(conv.ID), 1)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, "", err
	}
	mem, err := st.Reply.Memory()
	return mem.PeakRSS, st.Reply.Output(), err
}

// randomPicture is a PNG's signature then random bytes: size bytes that
// neither compress nor sniff as anything but a picture.
func randomPicture(size int) []byte {
	data := make([]byte, size)
	copy(data, "\x89PNG\r\n\x1a\n")
	rand.Read(data[8:])
	return data
}

// childPeakRSS is the peak RSS, in bytes, of the child process the log
// says read a file, or 0.
func childPeakRSS(log string) int64 {
	for line := range strings.Lines(log) {
		var l struct {
			Msg  string `json:"msg"`
			Peak int64  `json:"childPeakRSSKB"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "a file read in a child process" {
			return l.Peak << 10
		}
	}
	return 0
}
