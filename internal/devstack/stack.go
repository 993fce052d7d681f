// Package devstack runs the whole robot on one machine: both functions as
// real programs speaking FC's custom-runtime protocol, a local FC endpoint
// that they call through the same client that calls Alibaba's, a folder for
// the OSS mount, a fake DingTalk that signs callbacks and receives the
// answers, and, unless a real one is named, a fake OpenAI-compatible model.
// The end-to-end tests, the benchmarks and `make run` all stand on it.
package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/conversation"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/fc/fclocal"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
)

// Config configures a Stack.
type Config struct {
	// BinDir holds the built programs `conversation` and `reply`.
	BinDir string
	// DataDir is the folder that stands for the OSS mount.
	DataDir string
	// ConversationEnv and ReplyEnv are added to (and override) the
	// environment the stack gives each function.
	ConversationEnv map[string]string
	ReplyEnv        map[string]string
	// Model answers as the fake model when ReplyEnv names no ENDPOINT; nil
	// means the offline model.
	Model openaitest.Responder
	// FCMaxRetries and FCRetryDelay shape the local FC's async retries
	// (zero values: FC's default of 3 retries, short local delays).
	FCMaxRetries int
	FCRetryDelay func(attempt int) time.Duration
	// FCDuplicateDeliveries makes the local FC post every delivery of an
	// event twice at the same time, which with several ReplyInstances go
	// to two different instances. FCDuplicateSuccessCounts makes such an
	// attempt succeed when either post does (by default it fails when
	// either fails).
	FCDuplicateDeliveries    bool
	FCDuplicateSuccessCounts bool
	// DingTalkClock is the clock the fake DingTalk's callbacks read their
	// createAt from; nil means time.Now.
	DingTalkClock func() time.Time
	// DingTalkApp gives the robot an app (AppKey and AppSecret) that the fake
	// DingTalk's OpenAPI knows, and the reply function the variables to
	// answer through it when a session webhook has expired.
	DingTalkApp bool
	// CardButtons gives the robot's cards buttons: both functions get a
	// CARD_CALLBACK_ROUTE_KEY and a CARD_CALLBACK_SECRET (Stack.CardRouteKey,
	// Stack.CardSecret). It needs DingTalkApp, and ReplyEnv's
	// CARD_TEMPLATE_ID. The conversation function's public address is its
	// local URL, which each message's event names; the stack registers
	// nothing with the fake DingTalk itself: the reply function registers
	// that URL, beside the first message's answer, as it does on FC.
	CardButtons bool
	// ReplyInstances is how many reply processes share the OSS folder, as
	// FC's instances share the mount; the local FC spreads invocations over
	// them in turn. Zero means one.
	ReplyInstances int
	// MountOnly leaves out the local OSS API: the reply function then reads
	// and writes the bucket through the mount folder alone, as it does
	// without OSS_BUCKET.
	MountOnly bool
	// FUSE gives each reply instance its own FUSE mount of the local OSS
	// API's bucket, as FC gives each instance its ossfs mount: s3fs-fuse
	// over the API's S3 mode, at a fresh folder beside DataDir
	// (<DataDir>-mnt-<n>), which is the instance's OSS_MOUNT_POINT. It needs
	// the local OSS API (not MountOnly), /dev/fuse, s3fs and the right to
	// mount: FUSEAvailable says whether this machine has them. Close
	// unmounts.
	FUSE bool
	// OSSDelay is added to every request of the local OSS API: a bucket
	// round trip.
	OSSDelay time.Duration
	// ReplySink makes the local FC hand the reply function's events to a
	// sink that accepts each at once, without a network hop, instead of
	// delivering them to the reply processes (which still start, and get no
	// work): a load run of the conversation function then measures that
	// function, not the reply behind it nor FC's deliveries, which on FC run
	// on other machines.
	ReplySink bool
	// Logs, when set, receives the functions' output as it is written.
	Logs io.Writer
	// Logger receives the local FC endpoint's log.
	Logger *slog.Logger
}

// Stack is the robot running locally.
type Stack struct {
	Conversation *Process
	// Reply is the first reply instance; Replies holds them all.
	Reply    *Process
	Replies  []*Process
	FC       *fclocal.Server
	DingTalk *dingtalktest.Server
	// OSS is the local OSS API over DataDir (nil with MountOnly): its
	// objects are the files of the mount folder.
	OSS *osstest.Server
	// Mounts holds, with Config.FUSE, the mount point of each reply
	// instance, in the order of Replies.
	Mounts []string
	// Model is the fake model, or nil when a real endpoint is used.
	Model *openaitest.Server
	// AppSecret is the robot's AppSecret the conversation function checks
	// callbacks against.
	AppSecret string
	// CardRouteKey and CardSecret are the buttons' route key and secret,
	// with Config.CardButtons.
	CardRouteKey, CardSecret string
	// Secrets lists every secret handed to the functions, so that a test
	// can prove that none of them is ever logged.
	Secrets []string

	fcHTTP   *httptest.Server
	balancer *httptest.Server
	mounts   []*fuseMount
	// env is what each function was started with, by function name.
	env map[string]map[string]string
}

// The region and the bucket of the local stack.
const (
	localRegion = "cn-local"
	localBucket = "fcrobot-local"
)

// Function names as they would be deployed.
const (
	ConversationFunction = "conversation"
	ReplyFunction        = "reply"
)

// Start starts the stack; Close stops it.
func Start(ctx context.Context, o Config) (_ *Stack, err error) {
	s := &Stack{AppSecret: "app-secret-" + randomHex(8), env: map[string]map[string]string{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}

	// The conversation function signs its InvokeFunction calls with a RAM
	// user's key; the local FC checks the signature and hands the reply
	// function its role's temporary credentials, as FC does, which also
	// sign its calls to the OSS API.
	caller := alicloud.Credentials{AccessKeyID: "LTAI" + randomHex(8), AccessKeySecret: randomHex(15)}
	role := alicloud.Credentials{AccessKeyID: "STS." + randomHex(8), AccessKeySecret: randomHex(15), SecurityToken: randomHex(24)}
	s.Secrets = append(s.Secrets, s.AppSecret, caller.AccessKeySecret, role.AccessKeySecret, role.SecurityToken)

	var dtOptions []dingtalktest.Option
	if o.DingTalkClock != nil {
		dtOptions = append(dtOptions, dingtalktest.WithClock(o.DingTalkClock))
	}
	s.DingTalk = dingtalktest.NewServer(dtOptions...)
	replyEnv := map[string]string{
		"OSS_MOUNT_POINT":       o.DataDir,
		"SESSION_WEBHOOK_HOSTS": s.DingTalk.Host(),
		"FC_FUNCTION_NAME":      ReplyFunction,
		"FC_REGION":             localRegion,
	}
	if o.FUSE && o.MountOnly {
		return nil, errors.New("devstack: FUSE mounts the local OSS API's bucket, which MountOnly leaves out")
	}
	if !o.MountOnly {
		s.OSS = osstest.NewServer(osstest.Config{
			Dir: o.DataDir, Bucket: localBucket, Region: localRegion, Delay: o.OSSDelay, S3: o.FUSE,
			AccessKeyID: role.AccessKeyID, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken,
		})
		replyEnv["OSS_BUCKET"] = localBucket
		replyEnv["OSS_ENDPOINT"] = s.OSS.URL()
		replyEnv["ALIBABA_CLOUD_ACCESS_KEY_ID"] = role.AccessKeyID
		replyEnv["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = role.AccessKeySecret
		replyEnv["ALIBABA_CLOUD_SECURITY_TOKEN"] = role.SecurityToken
	}
	if o.DingTalkApp {
		key, secret := "ding"+randomHex(8), randomHex(16)
		s.DingTalk.SetApp(key, secret)
		replyEnv["DINGTALK_APP_KEY"], replyEnv["DINGTALK_APP_SECRET"] = key, secret
		replyEnv["DINGTALK_API_ENDPOINT"] = s.DingTalk.URL()
		s.Secrets = append(s.Secrets, secret)
	}
	if o.CardButtons {
		if !o.DingTalkApp {
			return nil, errors.New("devstack: CardButtons needs DingTalkApp: the buttons' card is created through the app's OpenAPI")
		}
		s.CardRouteKey, s.CardSecret = "fcrobot-"+randomHex(4), randomHex(16)
		replyEnv["CARD_CALLBACK_ROUTE_KEY"], replyEnv["CARD_CALLBACK_SECRET"] = s.CardRouteKey, s.CardSecret
		s.Secrets = append(s.Secrets, s.CardSecret)
	}
	if o.ReplyEnv["ENDPOINT"] == "" {
		model := o.Model
		if model == nil {
			model = openaitest.Offline()
		}
		s.Model = openaitest.NewServer(model)
		replyEnv["ENDPOINT"] = s.Model.URL()
		replyEnv["USER_API_KEY"] = "sk-local-" + randomHex(8)
		s.Secrets = append(s.Secrets, replyEnv["USER_API_KEY"])
	}
	for k, v := range o.ReplyEnv {
		replyEnv[k] = v
	}
	for _, k := range []string{"CHATGPT_API_KEY", "USER_API_KEY", "SEARCH_API_KEY"} {
		if replyEnv[k] != "" {
			s.Secrets = append(s.Secrets, replyEnv[k])
		}
	}
	s.env[ReplyFunction] = replyEnv
	for i := range max(o.ReplyInstances, 1) {
		name := ReplyFunction
		if i > 0 {
			name = fmt.Sprintf("%s#%d", ReplyFunction, i+1)
		}
		env := replyEnv
		if o.FUSE {
			dir, err := mountPoint(o.DataDir, i+1)
			if err != nil {
				return nil, fmt.Errorf("devstack: mount point of %s: %w", name, err)
			}
			m, err := mountS3FS(ctx, name, dir, s.OSS.URL(), localBucket, localRegion, role, o.Logs)
			if err != nil {
				_ = os.Remove(dir)
				return nil, fmt.Errorf("devstack: %w", err)
			}
			s.mounts = append(s.mounts, m)
			s.Mounts = append(s.Mounts, dir)
			env = maps.Clone(replyEnv)
			env["OSS_MOUNT_POINT"] = dir
			if i == 0 {
				s.env[ReplyFunction] = env // Launch shares the first instance's mount
			}
		}
		p, err := startProcess(ctx, name, filepath.Join(o.BinDir, ReplyFunction), env, o.Logs)
		if err != nil {
			return nil, err
		}
		s.Replies = append(s.Replies, p)
	}
	s.Reply = s.Replies[0]
	replyURL := s.Reply.URL
	if len(s.Replies) > 1 {
		s.balancer = httptest.NewServer(roundRobin(s.Replies))
		replyURL = s.balancer.URL
	}
	var fcClient *http.Client
	if o.ReplySink {
		replyURL = sinkURL
		fcClient = &http.Client{Transport: sink{}}
	}

	s.FC = fclocal.New(fclocal.Config{
		Functions:              map[string]string{ReplyFunction: replyURL},
		AccessKeys:             map[string]string{caller.AccessKeyID: caller.AccessKeySecret},
		RoleCredentials:        role,
		AccountID:              "1234567890",
		Region:                 localRegion,
		MaxAsyncRetryAttempts:  o.FCMaxRetries,
		RetryDelay:             o.FCRetryDelay,
		DuplicateDeliveries:    o.FCDuplicateDeliveries,
		DuplicateSuccessCounts: o.FCDuplicateSuccessCounts,
		Client:                 fcClient,
		Logger:                 o.Logger,
	})
	s.fcHTTP = httptest.NewServer(s.FC)

	convEnv := map[string]string{
		"CHATGPT_FUNCTION":                ReplyFunction,
		"DINGTALK_APP_SECRET":             s.AppSecret,
		"ENDPOINT":                        s.fcHTTP.URL,
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     caller.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": caller.AccessKeySecret,
		"FC_FUNCTION_NAME":                ConversationFunction,
	}
	if o.DingTalkApp {
		// As s.yaml does: the conversation function refuses a callback
		// for another robot.
		convEnv["DINGTALK_APP_KEY"] = replyEnv["DINGTALK_APP_KEY"]
	}
	if o.CardButtons {
		convEnv["CARD_CALLBACK_ROUTE_KEY"], convEnv["CARD_CALLBACK_SECRET"] = s.CardRouteKey, s.CardSecret
	}
	for k, v := range o.ConversationEnv {
		convEnv[k] = v
	}
	s.env[ConversationFunction] = convEnv
	if s.Conversation, err = startProcess(ctx, ConversationFunction, filepath.Join(o.BinDir, ConversationFunction), convEnv, o.Logs); err != nil {
		return nil, err
	}
	return s, nil
}

// Callback is DingTalk's answer to one callback, as DingTalk would see it.
type Callback struct {
	Status int
	Body   string
}

// Deliver posts a callback to the conversation function as DingTalk would:
// signed with the robot's AppSecret at the time now.
func (s *Stack) Deliver(ctx context.Context, body []byte, now time.Time) (Callback, error) {
	req, err := dingtalktest.SignedRequest(ctx, s.Conversation.URL+"/", s.AppSecret, body, now)
	if err != nil {
		return Callback{}, err
	}
	return s.Post(req)
}

// Post sends a request to the conversation function as it is.
func (s *Stack) Post(req *http.Request) (Callback, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Callback{}, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return Callback{}, err
	}
	return Callback{Status: resp.StatusCode, Body: b.String()}, nil
}

// Env returns a copy of the environment the stack gave the function named
// (ConversationFunction or ReplyFunction), the listening port left out:
// enough to start another instance of it with Launch.
func (s *Stack) Env(function string) map[string]string {
	env := make(map[string]string, len(s.env[function]))
	for k, v := range s.env[function] {
		env[k] = v
	}
	return env
}

// CardCallbackURL is where DingTalk sends the presses of the cards'
// buttons: the conversation function's local address with its /card, as
// each message's event names it.
func (s *Stack) CardCallbackURL() string { return s.Conversation.URL + conversation.PressPath }

// FCURL is the local FC endpoint's address.
func (s *Stack) FCURL() string { return s.fcHTTP.URL }

// Close stops the programs (SIGTERM, as FC does) and the fakes.
func (s *Stack) Close() error {
	var errs []error
	// The conversation function first, so no new work comes in; then the
	// local FC, which waits for the deliveries under way; then the reply
	// instances, each draining what it still has.
	if s.Conversation != nil {
		errs = append(errs, s.Conversation.Stop(10*time.Second))
	}
	if s.FC != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, s.FC.Close(ctx))
		cancel()
	}
	if s.fcHTTP != nil {
		s.fcHTTP.Close()
	}
	for _, p := range s.Replies {
		errs = append(errs, p.Stop(10*time.Second))
	}
	if s.balancer != nil {
		s.balancer.Close()
	}
	if s.Model != nil {
		s.Model.Close()
	}
	if s.DingTalk != nil {
		s.DingTalk.Close()
	}
	// The mounts once no instance uses them, before the API they speak to.
	for _, m := range s.mounts {
		errs = append(errs, m.unmount())
	}
	if s.OSS != nil {
		s.OSS.Close()
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// roundRobin hands each request to the next instance in turn, as FC spreads
// invocations over a function's instances.
func roundRobin(instances []*Process) http.Handler {
	proxies := make([]*httputil.ReverseProxy, len(instances))
	for i, p := range instances {
		u, _ := url.Parse(p.URL) // built by startProcess: always valid
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	var next atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[(next.Add(1)-1)%uint64(len(proxies))].ServeHTTP(w, r)
	})
}

// sinkURL is where the local FC delivers the reply function's events with
// Config.ReplySink; the sink transport answers for it.
const sinkURL = "http://reply-sink.invalid"

// sink is an http.RoundTripper that accepts every delivery at once, as a
// reply function answering 200 would, without a connection.
type sink struct{}

func (sink) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, ContentLength: 0, Request: r}, nil
}
