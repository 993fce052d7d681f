package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Paths are relative to this package's directory, where go test runs. The
// schema lives in shared/, beside the checkout rather than inside it.
const (
	sYAMLPath      = "../s.yaml"
	fc3SchemaPath  = "../../shared/fc3/schema.json"
	envExamplePath = "env.example"
)

// functionProps is the part of an fc3 resource's props these tests look at,
// after the magic variables are resolved.
type functionProps struct {
	FunctionName         string            `json:"functionName"`
	Runtime              string            `json:"runtime"`
	Code                 string            `json:"code"`
	CPU                  float64           `json:"cpu"`
	MemorySize           int               `json:"memorySize"`
	Timeout              int               `json:"timeout"`
	InstanceConcurrency  int               `json:"instanceConcurrency"`
	Role                 string            `json:"role"`
	LogConfig            any               `json:"logConfig"`
	EnvironmentVariables map[string]string `json:"environmentVariables"`
	CustomRuntimeConfig  struct {
		Command []string `json:"command"`
		Port    int      `json:"port"`
	} `json:"customRuntimeConfig"`
	Triggers []struct {
		TriggerName   string `json:"triggerName"`
		TriggerType   string `json:"triggerType"`
		TriggerConfig struct {
			AuthType string   `json:"authType"`
			Methods  []string `json:"methods"`
		} `json:"triggerConfig"`
	} `json:"triggers"`
	OSSMountConfig *struct {
		MountPoints []struct {
			BucketName string `json:"bucketName"`
			BucketPath string `json:"bucketPath"`
			Endpoint   string `json:"endpoint"`
			MountDir   string `json:"mountDir"`
			ReadOnly   bool   `json:"readOnly"`
		} `json:"mountPoints"`
	} `json:"ossMountConfig"`
	AsyncInvokeConfig *struct {
		MaxAsyncRetryAttempts     int  `json:"maxAsyncRetryAttempts"`
		MaxAsyncEventAgeInSeconds int  `json:"maxAsyncEventAgeInSeconds"`
		AsyncTask                 bool `json:"asyncTask"`
	} `json:"asyncInvokeConfig"`
}

// action is one step of a resource's actions, such as pre-deploy.
type action struct{ Run, Path string }

// resource is one entry of s.yaml's resources, resolved.
type resource struct {
	Component string              `json:"component"`
	Actions   map[string][]action `json:"actions"`
	Props     functionProps       `json:"props"`
}

// stack is s.yaml three ways: as written, resolved, and resolved into types.
type stack struct {
	raw       map[string]any
	resolved  map[string]any
	edition   string
	resources map[string]resource
}

func loadStack(t *testing.T) stack {
	t.Helper()
	data, err := os.ReadFile(sYAMLPath)
	if err != nil {
		t.Fatalf("reading s.yaml: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("parsing s.yaml: %v", err)
	}
	resolved, err := resolveDocument(raw)
	if err != nil {
		t.Fatalf("resolving s.yaml's magic variables: %v", err)
	}
	var typed struct {
		Edition   string              `json:"edition"`
		Resources map[string]resource `json:"resources"`
	}
	// Through JSON, as s hands props to the component: this also fails on
	// a mapping with non-string keys, which JSON cannot carry.
	js, err := json.Marshal(resolved)
	if err != nil {
		t.Fatalf("s.yaml resolved is not JSON-shaped: %v", err)
	}
	if err := json.Unmarshal(js, &typed); err != nil {
		t.Fatalf("s.yaml resolved does not have the expected shape: %v", err)
	}
	return stack{raw: raw, resolved: resolved, edition: typed.Edition, resources: typed.Resources}
}

func (s stack) function(t *testing.T, name string) resource {
	t.Helper()
	r, ok := s.resources[name]
	if !ok {
		t.Fatalf("s.yaml has no resource %q", name)
	}
	return r
}

// resolvedProps returns a resource's props as the schema validator wants
// them: decoded from JSON with numbers kept exact.
func (s stack) resolvedProps(t *testing.T, name string) any {
	t.Helper()
	resources, _ := s.resolved["resources"].(map[string]any)
	res, _ := resources[name].(map[string]any)
	js, err := json.Marshal(res["props"])
	if err != nil {
		t.Fatalf("props of %s: %v", name, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("props of %s: %v", name, err)
	}
	return v
}

// rawEnv returns a function's environmentVariables as written in s.yaml.
func (s stack) rawEnv(t *testing.T, name string) map[string]any {
	t.Helper()
	resources, _ := s.raw["resources"].(map[string]any)
	res, _ := resources[name].(map[string]any)
	props, _ := res["props"].(map[string]any)
	env, ok := props["environmentVariables"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no environmentVariables mapping", name)
	}
	return env
}

// fc3Schema compiles the fc3 component's props schema, or skips the test
// when the file is not beside the checkout (on GitHub, for one).
func fc3Schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(fc3SchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("fc3 component schema not found at %s: s.yaml NOT validated against it", abs)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", abs, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(abs, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compiling %s: %v", abs, err)
	}
	return sch
}

// functionNames lists s.yaml's resources, sorted.
func functionNames() []string { return []string{"conversation", "reply"} }

func TestSYAMLHasTheTwoFunctions(t *testing.T) {
	s := loadStack(t)
	if s.edition != "3.0.0" {
		t.Errorf("edition = %q, want 3.0.0 (Serverless Devs 3)", s.edition)
	}
	var names []string
	for name := range s.resources {
		names = append(names, name)
	}
	sort.Strings(names)
	if !slices.Equal(names, functionNames()) {
		t.Errorf("resources = %v, want %v", names, functionNames())
	}
}

func TestPropsMatchFC3Schema(t *testing.T) {
	sch := fc3Schema(t)
	s := loadStack(t)
	for _, name := range functionNames() {
		if err := sch.Validate(s.resolvedProps(t, name)); err != nil {
			t.Errorf("%s's props do not match the fc3 schema:\n%v", name, err)
		}
	}
}

// The validator must be wired for real: broken props have to fail.
func TestFC3SchemaRejectsBrokenProps(t *testing.T) {
	sch := fc3Schema(t)
	s := loadStack(t)
	tests := []struct {
		name     string
		function string
		breakIt  func(props map[string]any)
	}{
		{"cpu above 16 vCPU", "reply", func(p map[string]any) { p["cpu"] = 99 }},
		{"unknown runtime", "reply", func(p map[string]any) { p["runtime"] = "custom.debian99" }},
		{"memory not in 64 MB steps", "reply", func(p map[string]any) { p["memorySize"] = 200 }},
		{"region FC does not have", "reply", func(p map[string]any) { p["region"] = "cn-nowhere" }},
		{"number as environment value", "reply", func(p map[string]any) {
			p["environmentVariables"].(map[string]any)["TIMEOUT"] = 55
		}},
		{"concurrency above 200", "conversation", func(p map[string]any) { p["instanceConcurrency"] = 1000 }},
		{"unknown trigger type", "conversation", func(p map[string]any) {
			p["triggers"].([]any)[0].(map[string]any)["triggerType"] = "websocket"
		}},
		// Not a case: a broken http triggerConfig (no methods, a method
		// like FETCH). The schema's triggerConfig is anyOf every trigger
		// kind's config, and some of those require nothing, so it accepts
		// any object; TestConversationTakesDingTalkPOSTs covers it instead.
		{"no functionName", "conversation", func(p map[string]any) { delete(p, "functionName") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := s.resolvedProps(t, tt.function).(map[string]any)
			tt.breakIt(props)
			if err := sch.Validate(props); err == nil {
				t.Errorf("the schema accepted %s's props with %s", tt.function, tt.name)
			}
		})
	}
}

func TestFunctionsAreSmallCustomRuntimePrograms(t *testing.T) {
	s := loadStack(t)
	tests := []struct {
		function string
		code     string
	}{
		{"conversation", "./dist/conversation"},
		{"reply", "./dist/reply"},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			r := s.function(t, tt.function)
			p := r.Props
			if r.Component != "fc3" {
				t.Errorf("component = %q, want fc3", r.Component)
			}
			if !strings.HasPrefix(p.Runtime, "custom.") {
				t.Errorf("runtime = %q, want a custom runtime (custom.debianN)", p.Runtime)
			}
			if p.Code != tt.code {
				t.Errorf("code = %q, want %q (where make build puts the program)", p.Code, tt.code)
			}
			if !slices.Equal(p.CustomRuntimeConfig.Command, []string{"/code/bootstrap"}) || p.CustomRuntimeConfig.Port != 9000 {
				t.Errorf("customRuntimeConfig = %+v, want command [/code/bootstrap] on port 9000", p.CustomRuntimeConfig)
			}
			if p.CPU != 0.05 || p.MemorySize != 128 {
				t.Errorf("size = %v vCPU / %d MB, want 0.05 vCPU / 128 MB", p.CPU, p.MemorySize)
			}
			if p.InstanceConcurrency <= 1 {
				t.Errorf("instanceConcurrency = %d, want more than 1: an instance mostly waits", p.InstanceConcurrency)
			}
			if p.Role == "" {
				t.Error("no role: the function could not call FC or mount OSS")
			}
			if p.LogConfig != "auto" {
				t.Errorf("logConfig = %v, want auto so the logs reach SLS", p.LogConfig)
			}
			builds := slices.ContainsFunc(r.Actions["pre-deploy"], func(a action) bool {
				return a.Run == "make build" && a.Path == "./"
			})
			if !builds {
				t.Errorf("pre-deploy = %+v, want a `make build` run in ./", r.Actions["pre-deploy"])
			}
		})
	}
}

func TestConversationTakesDingTalkPOSTs(t *testing.T) {
	p := loadStack(t).function(t, "conversation").Props
	for _, tr := range p.Triggers {
		if tr.TriggerType == "http" && tr.TriggerConfig.AuthType == "anonymous" && slices.Contains(tr.TriggerConfig.Methods, "POST") {
			return
		}
	}
	t.Errorf("triggers = %+v, want an anonymous http trigger accepting POST (DingTalk cannot sign FC's way)", p.Triggers)
}

func TestConversationInvokesReply(t *testing.T) {
	s := loadStack(t)
	conversation := s.function(t, "conversation").Props
	reply := s.function(t, "reply").Props
	if got := conversation.EnvironmentVariables["CHATGPT_FUNCTION"]; got != reply.FunctionName {
		t.Errorf("conversation's CHATGPT_FUNCTION = %q, want reply's functionName %q", got, reply.FunctionName)
	}
	// conversation reads ENDPOINT as the FC endpoint; reply's chat ENDPOINT
	// copied over would send the invocation to the model's host.
	if got, ok := conversation.EnvironmentVariables["ENDPOINT"]; ok {
		t.Errorf("conversation sets ENDPOINT = %q; leave it unset so it uses FC's internal endpoint", got)
	}
}

func TestReplyMountsOSSWhereItReadsHistory(t *testing.T) {
	s := loadStack(t)
	p := s.function(t, "reply").Props
	mountPoint := p.EnvironmentVariables["OSS_MOUNT_POINT"]
	if mountPoint == "" {
		t.Fatal("reply has no OSS_MOUNT_POINT")
	}
	if p.OSSMountConfig == nil {
		t.Fatal("reply has no ossMountConfig")
	}
	vars := s.resolved["vars"].(map[string]any)
	region := vars["region"]
	for _, m := range p.OSSMountConfig.MountPoints {
		if m.MountDir != mountPoint {
			continue
		}
		if m.ReadOnly {
			t.Errorf("OSS mount at %s is read-only; reply saves history there", m.MountDir)
		}
		if m.BucketName != vars["ossBucket"] || m.BucketName == "" {
			t.Errorf("mounted bucket = %q, want vars.ossBucket %q", m.BucketName, vars["ossBucket"])
		}
		if want := "http://oss-" + region.(string) + "-internal.aliyuncs.com"; m.Endpoint != want {
			t.Errorf("OSS endpoint = %q, want the region's internal one %q", m.Endpoint, want)
		}
		if m.BucketPath == "" {
			t.Error("OSS mount has no bucketPath")
		}
		return
	}
	t.Errorf("no OSS mount at OSS_MOUNT_POINT %q: mounts are %+v", mountPoint, p.OSSMountConfig.MountPoints)
}

func TestReplyRetriesAsyncInvocations(t *testing.T) {
	p := loadStack(t).function(t, "reply").Props
	c := p.AsyncInvokeConfig
	if c == nil {
		t.Fatal("reply has no asyncInvokeConfig")
	}
	if c.MaxAsyncRetryAttempts < 1 || c.MaxAsyncRetryAttempts > 8 {
		t.Errorf("maxAsyncRetryAttempts = %d, want 1 to 8", c.MaxAsyncRetryAttempts)
	}
	if !c.AsyncTask {
		t.Error("asyncTask is off: FC would not refuse a repeated x-fc-async-task-id, so a redelivered message is answered twice")
	}
	// A sessionWebhook lives about 90 minutes: an older event cannot be answered.
	if c.MaxAsyncEventAgeInSeconds < 1 || c.MaxAsyncEventAgeInSeconds > 90*60 {
		t.Errorf("maxAsyncEventAgeInSeconds = %d, want 1 to 5400", c.MaxAsyncEventAgeInSeconds)
	}
}

func TestReplyKnowsItsOwnTimeout(t *testing.T) {
	p := loadStack(t).function(t, "reply").Props
	told, err := strconv.Atoi(p.EnvironmentVariables["FUNCTION_TIMEOUT"])
	if err != nil {
		t.Fatalf("reply's FUNCTION_TIMEOUT: %v", err)
	}
	// An answer ends 20 s before the function's timeout, to be delivered
	// in time: told a longer one, reply would be cut off while it posts.
	if told != p.Timeout {
		t.Errorf("reply's FUNCTION_TIMEOUT is %d s but its timeout %d s", told, p.Timeout)
	}
	if p.Timeout < 30 {
		t.Errorf("reply's timeout %d s leaves no time for an answer beyond delivering it", p.Timeout)
	}
}

func TestFunctionsKeepTheOriginalEnvNames(t *testing.T) {
	s := loadStack(t)
	want := map[string][]string{
		"conversation": {"CHATGPT_FUNCTION", "DINGTALK_APP_SECRET", "VERBOSE"},
		"reply": {"CHATGPT_API_KEY", "ENDPOINT", "HISTORY_LENGTH", "OSS_MOUNT_POINT", "TIMEOUT", "VERBOSE",
			"MODEL", "TEMPERATURE", "SYSTEM_PROMPT", "SESSION_WEBHOOK_HOSTS"},
	}
	for _, function := range functionNames() {
		env := s.function(t, function).Props.EnvironmentVariables
		for _, name := range want[function] {
			if _, ok := env[name]; !ok {
				t.Errorf("%s has no %s", function, name)
			}
		}
		for name := range env {
			if strings.HasPrefix(name, "FC_") {
				t.Errorf("%s sets %s: the FC_ prefix is reserved by FC", function, name)
			}
		}
	}
}

var secretName = regexp.MustCompile(`(_KEY|_SECRET|TOKEN|PASSWORD)$`)

// notSecret names variables that look like secrets and are not: the card
// template's variable name is a "key" of the template.
var notSecret = map[string]bool{"CARD_CONTENT_KEY": true}

// Secrets must come from the deployer's environment, never from the file,
// not even as an ${env()} default.
func TestNoSecretInSYAML(t *testing.T) {
	s := loadStack(t)
	for _, function := range functionNames() {
		for name, v := range s.rawEnv(t, function) {
			if !secretName.MatchString(name) || notSecret[name] {
				continue
			}
			text, _ := v.(string)
			segs, err := splitMagic(text)
			ok := err == nil && len(segs) == 1 && segs[0].expr != nil &&
				segs[0].expr.call == "env" && (len(segs[0].expr.args) == 1 || segs[0].expr.args[1] == "")
			if !ok {
				// The value is not printed: it may be a secret.
				t.Errorf("%s's %s is not ${env('...')} without a default", function, name)
			}
		}
	}
}

// envNamesInSYAML lists the deployer's variables that s.yaml reads.
func envNamesInSYAML(t *testing.T, v any, names map[string]bool) {
	t.Helper()
	switch v := v.(type) {
	case string:
		segs, err := splitMagic(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, seg := range segs {
			if seg.expr != nil && seg.expr.call == "env" {
				names[seg.expr.args[0]] = true
			}
		}
	case map[string]any:
		for _, item := range v {
			envNamesInSYAML(t, item, names)
		}
	case []any:
		for _, item := range v {
			envNamesInSYAML(t, item, names)
		}
	}
}

func TestEnvExampleListsEveryVariable(t *testing.T) {
	s := loadStack(t)
	read := map[string]bool{}
	envNamesInSYAML(t, s.raw, read)

	f, err := os.Open(envExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assignment := regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)
	documented := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := assignment.FindStringSubmatch(sc.Text()); m != nil {
			documented[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range read {
		if !documented[name] {
			t.Errorf("s.yaml reads %s but env.example does not list it", name)
		}
	}
	for name := range documented {
		if !read[name] {
			t.Errorf("env.example lists %s but s.yaml does not read it", name)
		}
	}
}

// stringList is a policy field that may be one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

type ramStatement struct {
	Effect    string
	Action    stringList
	Resource  stringList
	Principal struct{ Service stringList }
}

type ramPolicy struct {
	Version   string
	Statement []ramStatement
}

func loadPolicy(t *testing.T, path string) ramPolicy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p ramPolicy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if p.Version != "1" {
		t.Errorf("%s: Version = %q, want \"1\"", path, p.Version)
	}
	return p
}

// allows reports whether some Allow statement grants action on a resource
// containing resourcePart.
func (p ramPolicy) allows(action, resourcePart string) bool {
	for _, st := range p.Statement {
		if st.Effect != "Allow" || !slices.Contains(st.Action, action) {
			continue
		}
		if slices.ContainsFunc(st.Resource, func(r string) bool { return strings.Contains(r, resourcePart) }) {
			return true
		}
	}
	return false
}

func TestRAMPolicies(t *testing.T) {
	conversation := loadPolicy(t, "ram-policy-conversation.json")
	if !conversation.allows("fc:InvokeFunction", ":functions/<REPLY_FUNCTION_NAME>") {
		t.Error("conversation's policy does not allow fc:InvokeFunction on reply")
	}
	for _, st := range conversation.Statement {
		for _, a := range st.Action {
			if strings.HasPrefix(a, "oss:") || a == "fc:*" {
				t.Errorf("conversation's policy grants %s, more than it needs", a)
			}
		}
	}

	reply := loadPolicy(t, "ram-policy-reply.json")
	for _, action := range []string{"oss:GetObject", "oss:PutObject", "oss:DeleteObject"} {
		if !reply.allows(action, "<OSS_BUCKET>/") {
			t.Errorf("reply's policy does not allow %s in the bucket", action)
		}
	}
	if !reply.allows("oss:ListObjects", "<OSS_BUCKET>") {
		t.Error("reply's policy does not allow listing the bucket, which the mount needs")
	}

	trust := loadPolicy(t, "trust-policy.json")
	trusted := slices.ContainsFunc(trust.Statement, func(st ramStatement) bool {
		return st.Effect == "Allow" && slices.Contains(st.Action, "sts:AssumeRole") && slices.Contains(st.Principal.Service, "fc.aliyuncs.com")
	})
	if !trusted {
		t.Error("trust policy does not let fc.aliyuncs.com assume the role")
	}
}
