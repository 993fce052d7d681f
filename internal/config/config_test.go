package config

import (
	"strings"
	"testing"
	"time"
)

type example struct {
	Function string        `env:"CHATGPT_FUNCTION,required"`
	Length   int           `env:"HISTORY_LENGTH" envDefault:"5"`
	Timeout  time.Duration `env:"WAIT" envDefault:"55s"`
	Hosts    List          `env:"HOSTS" envDefault:"oapi.dingtalk.com"`
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseReadsDefaultsAndValues(t *testing.T) {
	var c example
	err := Parse(getenv(map[string]string{"CHATGPT_FUNCTION": "reply", "HOSTS": " a.example, ,b.example", "HISTORY_LENGTH": ""}), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Function != "reply" || c.Length != 5 || c.Timeout != 55*time.Second {
		t.Errorf("got %+v", c)
	}
	if strings.Join(c.Hosts, "|") != "a.example|b.example" {
		t.Errorf("hosts = %q", c.Hosts)
	}
}

func TestParseNamesEveryBadVariable(t *testing.T) {
	var c example
	err := Parse(getenv(map[string]string{"HISTORY_LENGTH": "five"}), &c)
	if err == nil {
		t.Fatal("missing CHATGPT_FUNCTION and a bad HISTORY_LENGTH accepted")
	}
	for _, name := range []string{"CHATGPT_FUNCTION", "HISTORY_LENGTH"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
