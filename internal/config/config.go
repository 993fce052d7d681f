// Package config reads a function's configuration from its environment with
// caarlos0/env, through a getenv function rather than the process
// environment, so that a test can start the real program with an
// environment of its own.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v10"
)

// Parse fills the struct v points to from the variables its `env` tags name,
// looked up with getenv. The error names every variable that is missing or
// invalid, so that a function that cannot start says why in one line.
func Parse(getenv func(string) string, v any) error {
	params, err := env.GetFieldParams(v)
	if err != nil {
		return err
	}
	// An empty variable counts as unset, as in the Python original, where
	// `os.environ.get(X) or default` treated "" like an absent variable.
	vars := make(map[string]string, len(params))
	for _, p := range params {
		if val := getenv(p.Key); val != "" {
			vars[p.Key] = val
		}
	}
	err = env.ParseWithOptions(v, env.Options{Environment: vars})
	var agg env.AggregateError
	if errors.As(err, &agg) {
		msgs := make([]string, 0, len(agg.Errors))
		for _, e := range agg.Errors {
			msgs = append(msgs, describe(v, e))
		}
		return fmt.Errorf("configuration: %s", strings.Join(msgs, "; "))
	}
	return err
}

// List is a comma-separated list in one variable, with blanks dropped and
// spaces trimmed ("a, b,,c" is [a b c]).
type List []string

// UnmarshalText implements encoding.TextUnmarshaler for env.
func (l *List) UnmarshalText(b []byte) error {
	*l = nil
	for _, s := range strings.Split(string(b), ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// describe words an error of env so that it names the variable: env's parse
// errors name the Go field, which means nothing to an operator.
func describe(v any, err error) string {
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeOf(v).Elem().FieldByName(pe.Name); ok {
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return fmt.Sprintf("%s is invalid: %v", key, pe.Err)
		}
	}
	return strings.TrimPrefix(err.Error(), "env: ")
}
