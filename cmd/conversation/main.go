// Command conversation is the HTTP-triggered function that DingTalk calls
// with each message a user sends to the robot. It runs on FC's custom
// runtime, and just as well on a laptop.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/config"
	"github.com/dingtalk-llm/fcrobot/internal/conversation"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "conversation: %v\n", err)
		os.Exit(1)
	}
}

// settings are the function's environment variables; the names are the
// Python original's, so that its users can switch without relearning them.
type settings struct {
	Function    string            `env:"CHATGPT_FUNCTION,required"`
	AppSecret   string            `env:"DINGTALK_APP_SECRET,required"`
	AppKey      string            `env:"DINGTALK_APP_KEY"`
	MaxAge      int               `env:"SIGNATURE_MAX_AGE" envDefault:"3600"`
	Endpoint    string            `env:"ENDPOINT"`
	ServiceName string            `env:"SERVICE_NAME"`
	AccountID   string            `env:"FC_ACCOUNT_ID"`
	Region      string            `env:"FC_REGION"`
	Verbose     logging.Verbosity `env:"VERBOSE" envDefault:"25"`

	CardRouteKey    string `env:"CARD_CALLBACK_ROUTE_KEY"`
	CardSecret      string `env:"CARD_CALLBACK_SECRET"`
	CardCallbackURL string `env:"CARD_CALLBACK_URL"`

	AccessKeyID     string `env:"ALIBABA_CLOUD_ACCESS_KEY_ID"`
	AccessKeySecret string `env:"ALIBABA_CLOUD_ACCESS_KEY_SECRET"`
	SecurityToken   string `env:"ALIBABA_CLOUD_SECURITY_TOKEN"`
}

const usage = `conversation: the DingTalk callback function of the robot.

It serves DingTalk's callbacks on 0.0.0.0:$FC_CUSTOM_LISTEN_PORT (else
$FC_SERVER_PORT, else 9000) and hands each message to the reply function.

Environment:
  CHATGPT_FUNCTION     name of the reply function (required)
  DINGTALK_APP_SECRET  the robot's AppSecret, to verify callbacks (required)
  DINGTALK_APP_KEY     the app's AppKey (Client ID), which is the robot's robotCode:
                       when set, a callback for another robotCode is refused
  SIGNATURE_MAX_AGE    seconds a callback's signed timestamp stays valid, 1 to 3600
                       (default 3600, DingTalk's hour): a captured timestamp and sign
                       can post any body until then (docs/threat-model.md)
  ENDPOINT             FC API endpoint (default: the region's internal endpoint,
                       built from FC_ACCOUNT_ID and FC_REGION, set by FC)
  SERVICE_NAME         call the FC 2.0 function of this service instead
  CARD_CALLBACK_ROUTE_KEY, CARD_CALLBACK_SECRET
                       the buttons of the robot's cards (docs/cards.md): both or neither,
                       the same as the reply function's. With them, presses are served
                       at /card, signed with the secret (16 to 256 characters)
  CARD_CALLBACK_URL    the https URL DingTalk sends presses to, when not this
                       function's own address with /card (a custom domain, a proxy)
  VERBOSE              Python log level: 10 debug, 20 info, 25 default, 30, 40
  ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET, _SECURITY_TOKEN
                       credentials used unless FC passes all three with a request
                       (a Debian 11 or newer runtime never passes the token)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := flags.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}

	var s settings
	if err := config.Parse(getenv, &s); err != nil {
		return err
	}
	if s.MaxAge < 1 || s.MaxAge > int(dingtalk.DefaultSignatureWindow/time.Second) {
		return fmt.Errorf("configuration: SIGNATURE_MAX_AGE must be 1 to %d seconds (DingTalk signs for an hour at most), got %d",
			int(dingtalk.DefaultSignatureWindow/time.Second), s.MaxAge)
	}
	if err := dingtalk.CheckCardCallbackSettings(s.CardRouteKey, s.CardSecret); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := checkCallbackURL(s.CardCallbackURL, s.CardSecret != ""); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := logging.New(stdout, s.Verbose).With("function", "conversation")

	invoker, err := fc.NewInvoker(fc.InvokerConfig{
		Endpoint: s.Endpoint, AccountID: s.AccountID, Region: s.Region, ServiceName: s.ServiceName,
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	handler := conversation.NewHandler(conversation.Config{
		Verifier:  dingtalk.Verifier{AppSecret: s.AppSecret, Window: time.Duration(s.MaxAge) * time.Second},
		RobotCode: s.AppKey,
		Invoker:   invoker,
		Function:  s.Function,
		Credentials: alicloud.Credentials{
			AccessKeyID: s.AccessKeyID, AccessKeySecret: s.AccessKeySecret, SecurityToken: s.SecurityToken,
		},
		Logger: logger,
		Presses: conversation.PressConfig{
			Verifier:    dingtalk.CardCallbackVerifier{Secret: s.CardSecret, Window: time.Duration(s.MaxAge) * time.Second},
			IDs:         dingtalk.CardIDs{Secret: s.CardSecret},
			CallbackURL: s.CardCallbackURL,
		},
	})
	// DingTalk's callback is a few KB and waits at most 10 s for the answer:
	// a body slower than that is no callback of DingTalk's.
	rt := fcruntime.New(handler, fcruntime.Config{Log: stdout, Logger: logger, ReadTimeout: 5 * time.Second})
	return rt.Serve(ctx, fcruntime.ListenAddr(getenv), func(addr net.Addr) {
		logger.Log(ctx, logging.LevelNotice, "conversation function listening",
			"addr", addr.String(), "fcEndpoint", invoker.Endpoint(), "replyFunction", s.Function,
			"fcService", s.ServiceName, "signatureMaxAge", s.MaxAge, "robotCodeChecked", s.AppKey != "",
			"cardButtons", s.CardSecret != "", "cardCallbackURL", s.CardCallbackURL)
	})
}

// checkCallbackURL checks CARD_CALLBACK_URL: an absolute https URL with a
// host and a path of its own (the function serves presses at that path),
// without credentials, query or fragment; set only with the buttons.
func checkCallbackURL(raw string, buttons bool) error {
	if raw == "" {
		return nil
	}
	if !buttons {
		return errors.New("CARD_CALLBACK_URL is set without CARD_CALLBACK_ROUTE_KEY and CARD_CALLBACK_SECRET")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return errors.New("CARD_CALLBACK_URL must be an absolute https URL without credentials, query or fragment, like https://bot.example.com/card")
	case u.Path == "" || u.Path == "/":
		return errors.New("CARD_CALLBACK_URL needs a path of its own, like /card: the presses are served at that path, the messages elsewhere")
	}
	return nil
}
