package e2e

import (
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// A question asked with five turns of history costs at most 20 bucket
// requests through the OSS API, all the receipts included: the budget that
// keeps the answer path short on FC's OSS (make bench times it against the
// round trip).
func TestAQuestionCostsFewBucketRequests(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{Model: openaitest.Echo("答：")})
	alice := single(t, st, "alice")
	for _, q := range []string{"一", "二", "三", "四", "五"} {
		alice.ask(q)
	}
	waitFC(t, st)
	st.OSS.ResetRequests()
	alice.ask("第六问")
	waitFC(t, st)
	total := 0
	for _, n := range st.OSS.Requests() {
		total += n
	}
	t.Logf("%s: %d bucket requests for one question with 5 turns of history: %v", t.Name(), total, st.OSS.Requests())
	if total > 20 {
		t.Errorf("%d bucket requests; want at most 20", total)
	}
	if r := requestsFor(st, "第六问"); len(r) != 1 || r[0].EarlierTurns() != 5 {
		t.Errorf("the model saw %v; want the question once, with 5 earlier turns", r)
	}
}
