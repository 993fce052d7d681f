package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serverlessDevs finds the Serverless Devs CLI (`s`, npm's
// @serverless-devs/s 3.x): SERVERLESS_DEVS_CLI, which .ci/run sets after
// installing it, else `s` on the PATH.
func serverlessDevs(t *testing.T) string {
	t.Helper()
	if cli := os.Getenv("SERVERLESS_DEVS_CLI"); cli != "" {
		return cli
	}
	cli, err := exec.LookPath("s")
	if err != nil {
		t.Skip("the Serverless Devs CLI is not installed (npm install -g @serverless-devs/s@3, or set SERVERLESS_DEVS_CLI): s.yaml is not rendered by it here")
	}
	return cli
}

// The real Serverless Devs CLI renders s.yaml as `s deploy` would, offline
// (`s preview`): every variable resolves, and the props hold both
// functions, the trigger, the mount and the OSS variables of the claim.
func TestServerlessDevsRendersSYAML(t *testing.T) {
	cli := serverlessDevs(t)
	home := t.TempDir() // s keeps its access aliases under $HOME/.s
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := append(os.Environ(), "HOME="+home,
		"OSS_BUCKET=robot-bucket", "OSS_BUCKET_PATH=/robot", "DINGTALK_APP_SECRET=app-secret", "CHATGPT_API_KEY=sk-test")
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Dir = ".."
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("s %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out
	}
	// ${config('AccountID')} needs an access alias; the keys are dummies.
	run("config", "add", "--AccessKeyID", "AKIDEXAMPLE", "--AccessKeySecret", "secretexample",
		"--AccountID", "1234567890", "-a", "default", "-f")
	out := run("preview", "-t", filepath.Base(sYAMLPath), "-o", "json")
	// s writes a warning line or two before the document.
	start := bytes.IndexByte(out, '{')
	if start < 0 {
		t.Fatalf("s preview printed no JSON:\n%s", out)
	}
	if bytes.Contains(out[start:], []byte("${")) {
		t.Errorf("s preview left variables unresolved:\n%s", out[start:])
	}
	var doc struct {
		Resources map[string]struct {
			Component string `json:"component"`
			Props     struct {
				FunctionName   string            `json:"functionName"`
				Role           string            `json:"role"`
				Environment    map[string]string `json:"environmentVariables"`
				Triggers       []map[string]any  `json:"triggers"`
				OSSMountConfig struct {
					MountPoints []struct {
						BucketName, BucketPath, MountDir string
					} `json:"mountPoints"`
				} `json:"ossMountConfig"`
			} `json:"props"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(out[start:], &doc); err != nil {
		t.Fatalf("s preview's JSON: %v\n%s", err, out[start:])
	}
	conv, reply := doc.Resources["conversation"], doc.Resources["reply"]
	if conv.Component != "fc3" || reply.Component != "fc3" {
		t.Fatalf("resources %v; want conversation and reply, both fc3", doc.Resources)
	}
	if len(conv.Props.Triggers) != 1 || conv.Props.Triggers[0]["triggerType"] != "http" {
		t.Errorf("conversation's triggers %v; want one HTTP trigger", conv.Props.Triggers)
	}
	mounts := reply.Props.OSSMountConfig.MountPoints
	if len(mounts) != 1 || mounts[0].BucketName != "robot-bucket" || mounts[0].BucketPath != "/robot" ||
		mounts[0].MountDir != reply.Props.Environment["OSS_MOUNT_POINT"] {
		t.Errorf("reply's mount %+v; want robot-bucket:/robot at OSS_MOUNT_POINT", mounts)
	}
	e := reply.Props.Environment
	if e["OSS_BUCKET"] != "robot-bucket" || e["OSS_BUCKET_PATH"] != "/robot" {
		t.Errorf("reply's OSS variables %q, %q; want the mounted bucket and folder", e["OSS_BUCKET"], e["OSS_BUCKET_PATH"])
	}
	if _, ok := e["OSS_ENDPOINT"]; !ok {
		t.Error("reply has no OSS_ENDPOINT")
	}
	if !strings.Contains(reply.Props.Role, "1234567890") {
		t.Errorf("reply's role %q; want the account id from the access alias", reply.Props.Role)
	}
}
