package bucket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Documents keep the text of the files a user sent without a question, in
// the bucket, for the questions that follow: one write-once object per
// file, named by the instant it was sent, so that one listing finds those
// sent after a moment and only they are read.
//
//	<root>/files/v1/<owner>/<millis>-<message>.json
//
// <owner> is the hash of the asker's key in the conversation, <message>
// that of the file message's id: a file kept twice (a retry) is one
// object.
type Documents struct {
	objects Objects
}

const documentsDir = "files/" + versionDir

// NewDocuments returns the documents kept in objects.
func NewDocuments(objects Objects) *Documents { return &Documents{objects: objects} }

type documentRecord struct {
	Version int `json:"version"`
	chat.Document
}

func (d *Documents) folder(owner string) string { return path.Join(documentsDir, ownerKey(owner)) }

// Keep keeps doc for owner.
func (d *Documents) Keep(ctx context.Context, owner string, doc chat.Document) error {
	dir := d.folder(owner)
	data, err := json.Marshal(documentRecord{Version: formatVersion, Document: doc})
	if err != nil {
		return fmt.Errorf("bucket: encode a document: %w", err)
	}
	if err := d.objects.Create(ctx, path.Join(dir, documentName(doc)), data); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bucket: keep a document: %w", err)
	}
	return nil
}

// Since returns owner's documents sent after since, oldest first: one
// listing, then their reads at once, while those sent before since are
// removed, so that a file nobody asked about does not outlive its time. A
// document that does not parse (on ossfs, one still being written) is
// left out.
func (d *Documents) Since(ctx context.Context, owner string, since time.Time) ([]chat.Document, error) {
	dir := d.folder(owner)
	names, err := d.objects.List(ctx, dir, 0)
	if err != nil {
		return nil, fmt.Errorf("bucket: documents: %w", err)
	}
	after := millis(since)
	var wanted, expired []string
	for _, n := range names {
		switch ms, ok := documentMillis(n); {
		case ok && ms > after:
			wanted = append(wanted, n)
		case ok:
			expired = append(expired, n)
		}
	}
	docs := make([]*chat.Document, len(wanted))
	errs := make([]error, len(wanted))
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		// A failure leaves the file for the next look: not worth failing
		// the question for.
		_ = pruneBefore(ctx, d.objects, dir, expired, after+1, documentMillis)
	}()
	for i, n := range wanted {
		reading.Add(1)
		go func() {
			defer reading.Done()
			data, err := d.objects.Read(ctx, path.Join(dir, n))
			if errors.Is(err, fs.ErrNotExist) {
				return // pruned since the listing
			}
			if err != nil {
				errs[i] = err
				return
			}
			var r documentRecord
			if json.Unmarshal(data, &r) == nil && r.Version == formatVersion {
				docs[i] = &r.Document
			}
		}()
	}
	reading.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bucket: documents: %w", err)
	}
	var out []chat.Document
	for _, doc := range docs {
		if doc != nil {
			out = append(out, *doc)
		}
	}
	return out, nil
}

// Take removes doc, which a question took, from owner's documents: each
// file goes with one question.
func (d *Documents) Take(ctx context.Context, owner string, doc chat.Document) error {
	if err := d.objects.Remove(ctx, path.Join(d.folder(owner), documentName(doc))); err != nil {
		return fmt.Errorf("bucket: remove a document taken: %w", err)
	}
	return nil
}

// documentName is the object name of doc in its owner's folder.
func documentName(doc chat.Document) string {
	return formatMillis(millis(doc.SentAt)) + "-" + messageKey(doc.MessageID) + fileSuffix
}

// Clear removes all of owner's documents.
func (d *Documents) Clear(ctx context.Context, owner string) error {
	if err := d.objects.RemoveAll(ctx, d.folder(owner)); err != nil {
		return fmt.Errorf("bucket: clear documents: %w", err)
	}
	return nil
}

// documentMillis is the instant a document's object name starts with.
func documentMillis(name string) (int64, bool) {
	digits, _, ok := strings.Cut(name, "-")
	if !ok || len(digits) != millisDigits || !strings.HasSuffix(name, fileSuffix) {
		return 0, false
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	return ms, err == nil
}
