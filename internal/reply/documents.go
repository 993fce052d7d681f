package reply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// A file sent on its own (DingTalk's file messages carry no words) is read
// at once, so that a file the robot cannot read is said so while the user
// is still there, and its text is kept on the bucket for the asker's next
// question in that conversation: the question finds it with the same
// listing-then-reads as its history, at the same time, adding no serial
// round trip. A file quoted in a question is read for that question alone.

// DefaultDocumentsKept is how long a file sent without a question waits
// for it.
const DefaultDocumentsKept = 24 * time.Hour

// readableKinds names what the robot reads, for the user who sent
// something else.
const readableKinds = "文本和代码文件（.txt .md .csv .json .log 等）、HTML、PDF、Word（.docx）、PowerPoint（.pptx）和 Excel（.xlsx）"

// keepFile answers a file message: its text is read and kept for the next
// question of its asker in its conversation.
func (s *Prompter) keepFile(ctx context.Context, j *job) (response, error) {
	m := j.m
	doc, refusal, err := s.readFile(ctx, j.log, m, *m.File)
	if err != nil || refusal != "" {
		return response{text: refusal}, err
	}
	chars := utf8.RuneCountInString(doc.Text)
	kept := doc
	if limit := s.keptRunes(); chars > limit {
		kept.Text, kept.Truncated = string([]rune(doc.Text)[:limit]), true
	}
	if err := s.documents.Keep(ctx, m.HistoryOwner(), kept); err != nil {
		return response{}, retry.Mark(fmt.Errorf("keep a file's text: %w", err))
	}
	j.log.Log(ctx, logging.LevelNotice, "file kept for the next question", "fileChars", chars, "keptChars", utf8.RuneCountInString(kept.Text), "truncated", kept.Truncated)
	size := fmt.Sprintf("%d 字", chars)
	if doc.Truncated {
		size = fmt.Sprintf("超过 %d 字", chars)
	}
	return response{text: fmt.Sprintf("已读取文件《%s》（%s）。请接着提问，你的下一个问题会带上它（%d 小时内有效）。",
		doc.Name, size, int(s.documentsKept.Hours()))}, nil
}

// keptRunes bounds the text kept of a file: more than the context window
// can take of it (a character is at least a third of a token), and what
// any window could when there is none.
func (s *Prompter) keptRunes() int {
	if w := s.window; w > 0 {
		return 3 * w
	}
	return maxDocumentRunes
}

// maxDocumentRunes bounds a file's text without a context window.
const maxDocumentRunes = 200_000

// readFile downloads the file a of m and reads its text. refusal, when not
// empty, tells the user why it cannot be read: a kind the robot does not
// read, a file too large, damaged, protected or without text. The error is
// retryable.
func (s *Prompter) readFile(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attachment) (chat.Document, string, error) {
	name := a.Name
	if name == "" {
		name = "未命名文件"
	}
	if !s.readsFiles() {
		return chat.Document{}, unsupportedText("file"), nil
	}
	log = log.With("fileExt", strings.ToLower(path.Ext(name)))
	if !s.reader.Readable(name) {
		log.InfoContext(ctx, "a file of a kind the robot does not read")
		return chat.Document{}, unreadableKindText(name), nil
	}
	f, err := s.download(ctx, m, a.DownloadCode)
	switch {
	case errors.Is(err, chat.ErrFileTooLarge):
		log.WarnContext(ctx, "file too large", "maxBytes", s.maxFileBytes)
		return chat.Document{}, fmt.Sprintf("抱歉，文件《%s》太大了（上限 %d MB）。请删减或拆成几个文件后再发。", name, s.maxFileBytes>>20), nil
	case retry.Retryable(err):
		return chat.Document{}, "", fmt.Errorf("download a file: %w", err)
	case err != nil:
		log.ErrorContext(ctx, "could not download a file", "err", err)
		return chat.Document{}, fmt.Sprintf("抱歉，没能下载文件《%s》，请稍后重发。", name), nil
	}
	size := fileSize(f)
	text, truncated, err := s.extract(ctx, name, f)
	switch {
	case errors.Is(err, errReadTooLong):
		log.WarnContext(ctx, "reading a file's text took too long", "fileBytes", size, "limit", maxReadTime)
		return chat.Document{}, fmt.Sprintf("抱歉，文件《%s》太复杂，我在 %d 秒内没能读完。请拆成几个小文件，或把要问的部分复制出来发给我。", name, int(maxReadTime.Seconds())), nil
	case err != nil && ctx.Err() != nil:
		return chat.Document{}, "", retry.Mark(fmt.Errorf("read a file: %w", err))
	case retry.Retryable(err):
		// No fault of the file's: the reader could not run.
		return chat.Document{}, "", fmt.Errorf("read a file: %w", err)
	case errors.Is(err, chat.ErrFileTooComplex):
		log.WarnContext(ctx, "reading a file was stopped at a limit", "fileBytes", size, "err", err)
		return chat.Document{}, unreadableFileText(name, err), nil
	case errors.Is(err, chat.ErrFileReaderUnavailable):
		log.ErrorContext(ctx, "files cannot be read here: the reader's process cannot start or be limited", "err", err)
		return chat.Document{}, unreadableFileText(name, err), nil
	case err != nil:
		log.WarnContext(ctx, "could not read a file's text", "fileBytes", size, "err", err)
		return chat.Document{}, unreadableFileText(name, err), nil
	}
	return chat.Document{MessageID: m.ID, Name: name, Text: text, Truncated: truncated, SentAt: s.sentAt(m)}, "", nil
}

// download fetches a file into a temporary file on disk, never whole in
// memory: MAX_FILE_MB may be most of the function's memory. The file is
// unlinked as soon as it is made, so that nothing is left on disk once it
// is closed, whatever happens to the process; the caller closes it. A
// failure to write it (a full disk) is worth a retry.
func (s *Prompter) download(ctx context.Context, m chat.Message, code string) (*os.File, error) {
	f, err := s.downloads.Download(ctx, m, code, s.maxFileBytes)
	if err != nil {
		return nil, err
	}
	defer f.Body.Close()
	tmp, err := os.CreateTemp("", "file-")
	if err != nil {
		return nil, retry.Mark(fmt.Errorf("a temporary file: %w", err))
	}
	os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, onlyReads{f.Body}); err != nil {
		tmp.Close()
		var werr *fs.PathError
		if errors.As(err, &werr) && werr.Op == "write" {
			return nil, retry.Mark(fmt.Errorf("write a temporary file: %w", err))
		}
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, retry.Mark(fmt.Errorf("rewind a temporary file: %w", err))
	}
	return tmp, nil
}

// onlyReads hides every method of a reader but Read, so that io.Copy
// copies through its buffer rather than asking the file to read from it
// (which would hide which side failed).
type onlyReads struct{ io.Reader }

// fileSize is f's size, for a log line.
func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return -1
	}
	return st.Size()
}

// maxReadTime bounds the wait for a file's text, the turn of the other
// files being read on the instance included: well within FC's timeout,
// on a fraction of a CPU.
const maxReadTime = 45 * time.Second

var errReadTooLong = errors.New("reading the file took too long")

// extract reads the text of f, one file at a time on the instance: a
// reader (a child process) takes tens of megabytes to read a large
// workbook or PDF, and the instance answers many questions at once within
// a small memory. A read that outlasts maxReadTime is given up: the
// reader's context ends, which stops a child process at once; a reader
// that cannot be stopped still holds the turn until it ends, so that two
// never run at once. extract closes f once the reader is done with it.
func (s *Prompter) extract(ctx context.Context, name string, f *os.File) (string, bool, error) {
	readCtx, cancel := context.WithTimeoutCause(ctx, maxReadTime, errReadTooLong)
	select {
	case s.reading <- struct{}{}:
	case <-readCtx.Done():
		cancel()
		f.Close()
		return "", false, context.Cause(readCtx)
	}
	type result struct {
		text      string
		truncated bool
		err       error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.reading }()
		defer cancel()
		defer f.Close()
		text, truncated, err := s.reader.Read(readCtx, name, f)
		done <- result{text, truncated, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && errors.Is(context.Cause(readCtx), errReadTooLong) {
			r.err = errReadTooLong
		}
		return r.text, r.truncated, r.err
	case <-readCtx.Done():
		return "", false, context.Cause(readCtx)
	}
}

// unreadableKindText answers a file of a kind the robot does not read.
func unreadableKindText(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".doc", ".xls", ".ppt", ".wps", ".et", ".dps":
		return fmt.Sprintf("抱歉，我读不了旧格式的《%s》。请另存为 .docx、.xlsx 或 .pptx 后再发。", name)
	}
	return fmt.Sprintf("抱歉，我读不了《%s》这类文件。我能读%s。", name, readableKinds)
}

// unreadableFileText says why a file's text could not be read.
func unreadableFileText(name string, err error) string {
	switch {
	case errors.Is(err, chat.ErrFileEncrypted):
		return fmt.Sprintf("抱歉，文件《%s》有密码或加密保护，我打不开。请去掉保护（PDF 可以另存或打印为新的 PDF）后再发。", name)
	case errors.Is(err, chat.ErrFileNoText):
		return fmt.Sprintf("抱歉，文件《%s》里没有可以读取的文字（比如扫描件或只有图片的 PDF）。请发可复制文字的版本，或把文字直接发给我。", name)
	case errors.Is(err, chat.ErrFileUnreadableFont):
		return fmt.Sprintf("抱歉，文件《%s》的字体没有附带文字编码，读出来会是乱码。请另存为可复制文字的 PDF，或把文字直接发给我。", name)
	case errors.Is(err, chat.ErrFileTooLarge):
		return fmt.Sprintf("抱歉，文件《%s》解压后太大，我读不了。请删减后再发。", name)
	case errors.Is(err, chat.ErrFileTooComplex):
		return fmt.Sprintf("抱歉，文件《%s》太复杂，读它要的内存或时间超出了我的上限，我没能读完。请拆成几个小文件，或把要问的部分复制出来发给我。", name)
	case errors.Is(err, chat.ErrFileUnsupported):
		return unreadableKindText(name)
	case errors.Is(err, chat.ErrFileReaderUnavailable):
		return fmt.Sprintf("抱歉，我这里暂时读不了文件（读取文件的程序无法启动），《%s》没有读。请联系管理员查看日志，或把要问的内容直接发给我。", name)
	}
	return fmt.Sprintf("抱歉，文件《%s》打不开：它可能已损坏，或者内容与扩展名不符。", name)
}

// loadDocuments starts loading the files m's asker sent within
// DocumentsKept before m, for m's question, or returns nil when none can
// wait: DingTalk hands a group's robot no file message, and without Files
// none is read.
func (s *Prompter) loadDocuments(ctx context.Context, m chat.Message) *pending[[]chat.Document] {
	if !offered(s.documents) || !offered(s.downloads) || m.IsGroup() {
		return nil
	}
	return begin(ctx, func(ctx context.Context) ([]chat.Document, error) {
		return s.documents.Since(ctx, m.HistoryOwner(), s.sentAt(m).Add(-s.documentsKept))
	})
}

// sentBefore are the documents a question takes: those its asker sent
// before it and no answered question took yet (record.go drops each one
// taken, so that a file goes with one question).
func sentBefore(docs []chat.Document, asked time.Time) []chat.Document {
	var out []chat.Document
	for _, d := range docs {
		if !d.SentAt.After(asked) {
			out = append(out, d)
		}
	}
	return out
}

// take drops the documents a question took, once its turn is kept. A
// failure leaves the file for the next question too, the lesser harm.
func (s *Prompter) take(ctx context.Context, log *slog.Logger, m chat.Message, docs []chat.Document) {
	for _, d := range docs {
		if err := s.documents.Take(ctx, m.HistoryOwner(), d); err != nil {
			log.WarnContext(ctx, "could not drop a file its question took", "err", err)
		}
	}
}

// A file is not worth sending with less than minFileTokens of its text.
const minFileTokens = 200

// fileElement is the <file> element that carries a file's text to the
// model; note, when not empty, tells the model it was cut.
func fileElement(name, note, text string) string {
	attr := ""
	if note != "" {
		attr = fmt.Sprintf(" note=%q", note)
	}
	return fmt.Sprintf("<file name=%q%s>\n%s\n</file>\n\n", name, attr, text)
}

// cutNote tells the model how much of a file it reads.
func cutNote(runes int) string {
	return fmt.Sprintf("文件太长，这里只有开头的 %d 字", runes)
}

// files is the files' text for p's question, each cut to fit the context
// window beside p's system prompt and question (the history gives way
// first), and the notes that tell the user what was cut. A cut is marked
// for the model too. refusal says there is no room for the files at all.
func (s *Prompter) files(docs []chat.Document, p chat.Prompt, window int) (block string, notes []string, refusal string) {
	if len(docs) == 0 {
		return "", nil, ""
	}
	room := -1 // no bound
	if window > 0 {
		bare := p
		bare.History = nil
		room = window - bare.Tokens()
		for _, d := range docs {
			// The element around each file, its longest note included.
			room -= chat.Tokens(fileElement(d.Name, cutNote(maxDocumentRunes), ""))
		}
		if room < minFileTokens*len(docs) {
			return "", nil, fmt.Sprintf("抱歉，问题加上文件超出了我一次能读的长度（约 %d 个 token）。请缩短问题后再问。", window)
		}
	}
	// The shortest files first, so that what they leave goes to the
	// longer ones.
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	need := make([]int, len(docs))
	for i, d := range docs {
		need[i] = chat.Tokens(d.Text)
	}
	slices.SortStableFunc(order, func(a, b int) int { return need[a] - need[b] })
	texts := make([]string, len(docs))
	cut := make([]bool, len(docs))
	for k, i := range order {
		texts[i] = docs[i].Text
		if room < 0 {
			continue
		}
		share := room / (len(docs) - k)
		if need[i] > share {
			texts[i], cut[i] = cutToTokens(docs[i].Text, share), true
		}
		room -= chat.Tokens(texts[i])
	}
	var b strings.Builder
	for i, d := range docs {
		note := ""
		if cut[i] || d.Truncated {
			read := utf8.RuneCountInString(texts[i])
			note = cutNote(read)
			notes = append(notes, fmt.Sprintf("注：文件《%s》太长，我只读了开头的 %d 字。", d.Name, read))
		}
		b.WriteString(fileElement(d.Name, note, texts[i]))
	}
	return b.String(), notes, ""
}

// cutToTokens is the longest start of text within tokens, ended at a line
// break when one is near.
func cutToTokens(text string, tokens int) string {
	r := []rune(text)
	lo, hi := 0, len(r) // the longest prefix within tokens is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if chat.Tokens(string(r[:mid])) <= tokens {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	head := string(r[:lo])
	if i := strings.LastIndexByte(head, '\n'); i >= len(head)*9/10 {
		head = head[:i]
	}
	return strings.TrimSpace(head)
}
