package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

// With OSS_BUCKET the stores go through the API and need no mount point;
// without it the mount point must be there.
func TestTheStoresNeedTheMountPointOnlyWithoutTheAPI(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	missing := filepath.Join(t.TempDir(), "nowhere")

	_, err := openStores(nil, missing, true, "A", logger)
	if !errors.Is(err, ossmount.ErrNoMountPoint) || !strings.Contains(err.Error(), "OSS_MOUNT_POINT") {
		t.Errorf("without the API and a missing mount point: error = %v, want one naming OSS_MOUNT_POINT", err)
	}

	dir := t.TempDir()
	role := alicloud.Credentials{AccessKeyID: "STS.test-role", AccessKeySecret: "role-secret", SecurityToken: "role-token"}
	srv := osstest.NewServer(osstest.Config{
		Dir: dir, Bucket: "fcrobot-test", Region: "cn-hangzhou",
		AccessKeyID: role.AccessKeyID, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken,
	})
	t.Cleanup(srv.Close)
	api, err := oss.New(oss.Config{
		Bucket: "fcrobot-test", Folder: "/robot/", Endpoint: srv.URL(), Region: "cn-hangzhou",
		Credentials: func(context.Context) (alicloud.Credentials, error) { return role, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStores(api, missing, true, "A", logger)
	if err != nil {
		t.Fatalf("with the API and a missing mount point: %v", err)
	}
	if st.tally == nil {
		t.Error("MONTHLY_CALLS is set, yet there is no tally")
	}
	asked := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	turn := chat.Turn{MessageID: "msg-1", Question: "你好", Answer: "你好！", AskedAt: asked, AnsweredAt: asked.Add(time.Second)}
	if err := st.history.Save(t.Context(), "owner", turn); err != nil {
		t.Fatal(err)
	}
	got, err := st.history.Load(t.Context(), "owner", 5)
	if err != nil || len(got) != 1 || got[0].Answer != turn.Answer {
		t.Errorf("Load after Save through the API = %+v, %v; want the turn saved", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "robot", "history", "v1")); err != nil {
		t.Errorf("the history is not in the bucket folder: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing mount point was touched: %v", err)
	}
}
