package fc

import (
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
)

// BenchmarkClient measures building an SDK client per call, which the
// conversation function does for each DingTalk message.
func BenchmarkClient(b *testing.B) {
	inv, err := NewInvoker(InvokerConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	creds := alicloud.Credentials{AccessKeyID: "STS.id", AccessKeySecret: "secret", SecurityToken: "token"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inv.client(creds); err != nil {
			b.Fatal(err)
		}
	}
}
