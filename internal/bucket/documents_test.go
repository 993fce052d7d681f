package bucket

import (
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

func TestDocumentsAreFoundByTheQuestionsSentAfterThem(t *testing.T) {
	d := NewDocuments(MountAt(t, t.TempDir()))
	ctx := t.Context()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	keep := func(owner, id string, sent time.Time) {
		t.Helper()
		doc := chat.Document{MessageID: id, Name: id + ".txt", Text: "内容 " + id, SentAt: sent}
		if err := d.Keep(ctx, owner, doc); err != nil {
			t.Fatal(err)
		}
	}
	keep("alice", "old", at.Add(-30*time.Hour))
	keep("alice", "a", at)
	keep("alice", "a", at) // kept again by a retry
	keep("alice", "b", at.Add(time.Minute))
	keep("bob", "c", at)

	docs, err := d.Since(ctx, "alice", at.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].MessageID != "a" || docs[1].MessageID != "b" || docs[0].Text != "内容 a" || !docs[1].SentAt.Equal(at.Add(time.Minute)) {
		t.Errorf("alice's documents of the last day: %+v; want a then b", docs)
	}
	if docs, err := d.Since(ctx, "alice", at.Add(-48*time.Hour)); err != nil || len(docs) != 2 {
		t.Errorf("the document older than a day was not removed by the look before: %+v %v", docs, err)
	}
	if err := d.Take(ctx, "alice", docs[0]); err != nil {
		t.Fatal(err)
	}
	if docs, err := d.Since(ctx, "alice", time.Time{}); err != nil || len(docs) != 1 || docs[0].MessageID != "b" {
		t.Errorf("after a was taken: %+v %v; want b alone", docs, err)
	}
	if err := d.Clear(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if docs, err := d.Since(ctx, "alice", time.Time{}); err != nil || len(docs) != 0 {
		t.Errorf("after Clear: %+v %v", docs, err)
	}
	if docs, err := d.Since(ctx, "bob", time.Time{}); err != nil || len(docs) != 1 {
		t.Errorf("bob's after alice's Clear: %+v %v", docs, err)
	}
}
