package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// A question asked with five turns of history costs at most 20 bucket
// requests through the OSS API, all the receipts included: the budget that
// keeps the answer path short on FC's OSS (make bench times it against the
// round trip). The looks for a \stop request, one a second while the model
// writes, are left out: on a slow machine there may be one.
func TestAQuestionCostsFewBucketRequests(t *testing.T) {
	t.Parallel()
	// Receipts of days past the retention, as a robot in use has: every
	// delivery removes one old message, and that is counted too.
	data := t.TempDir()
	old := time.Now().Add(-5 * 24 * time.Hour).UTC().Format("20060102")
	for i := range 10 {
		dir := filepath.Join(data, "messages", "v1", old, fmt.Sprintf("%064x", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"claim-000000.json", "answer.json", "sent-0.json", "delivered.json"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"version":1}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := start(t, devstack.Config{Model: openaitest.Echo("答："), DataDir: data})
	alice := single(t, st, "alice")
	// Each delivery ends (and prunes) before the next begins: two prunes
	// at once may pick the same old message, which only wastes one.
	for _, q := range []string{"一", "二", "三", "四", "五"} {
		alice.ask(q)
		waitFC(t, st)
	}
	st.OSS.ResetRequests()
	alice.ask("第六问")
	waitFC(t, st)
	total := -st.OSS.Listings("stops/")
	for _, n := range st.OSS.Requests() {
		total += n
	}
	t.Logf("%s: %d bucket requests for one question with 5 turns of history: %v", t.Name(), total, st.OSS.Requests())
	if total > 20 {
		t.Errorf("%d bucket requests; want at most 20", total)
	}
	if left, err := os.ReadDir(filepath.Join(data, "messages", "v1", old)); err != nil || len(left) != 10-6 {
		t.Errorf("%d old messages left after 6 deliveries (%v); want one removed by each", len(left), err)
	}
	if r := requestsFor(st, "第六问"); len(r) != 1 || r[0].EarlierTurns() != 5 {
		t.Errorf("the model saw %v; want the question once, with 5 earlier turns", r)
	}
}
