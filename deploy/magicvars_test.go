package deploy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Placeholders stand for what only the deployer's machine knows. They are
// strings, as the real values are, so the schema sees the right types.
const accountIDPlaceholder = "PLACEHOLDER_ACCOUNT_ID"

func envPlaceholder(name string) string { return "PLACEHOLDER_" + name }

// maxResolveDepth bounds how many references are followed through each
// other (a var naming a var naming ...), so that a cycle fails instead of
// looping.
const maxResolveDepth = 16

var errUnsupported = errors.New("unsupported magic variable")

// magicExpr is one parsed ${...}: a call such as env('X', 'd') or a dotted
// reference such as vars.region.
type magicExpr struct {
	call string   // "env" or "config"; empty for a reference
	args []string // the call's quoted arguments
	path []string // the reference's parts
}

// segment is a piece of a YAML string: literal text, or a ${...}.
type segment struct {
	literal string
	expr    *magicExpr
	source  string // the expression's text, for error messages
}

// splitMagic cuts s into literal text and ${...} expressions. A '}' inside a
// quoted argument does not close the expression.
func splitMagic(s string) ([]segment, error) {
	var segs []segment
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			if s != "" {
				segs = append(segs, segment{literal: s})
			}
			return segs, nil
		}
		if start > 0 {
			segs = append(segs, segment{literal: s[:start]})
		}
		body := s[start+2:]
		end, quote := -1, rune(0)
		for i, r := range body {
			switch {
			case quote != 0 && r == quote:
				quote = 0
			case quote != 0:
			case r == '\'' || r == '"':
				quote = r
			case r == '}':
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("unterminated ${ in %q", s)
		}
		e, err := parseMagic(body[:end])
		if err != nil {
			return nil, err
		}
		segs = append(segs, segment{expr: &e, source: "${" + body[:end] + "}"})
		s = body[end+1:]
	}
}

// parseMagic parses the inside of ${...}: name('a', "b") or a.b.c.
func parseMagic(src string) (magicExpr, error) {
	src = strings.TrimSpace(src)
	open := strings.IndexByte(src, '(')
	if open < 0 {
		path := strings.Split(src, ".")
		for _, p := range path {
			if p == "" || strings.ContainsAny(p, " '\"") {
				return magicExpr{}, fmt.Errorf("malformed reference ${%s}", src)
			}
		}
		return magicExpr{path: path}, nil
	}
	if !strings.HasSuffix(src, ")") {
		return magicExpr{}, fmt.Errorf("malformed call ${%s}", src)
	}
	e := magicExpr{call: strings.TrimSpace(src[:open])}
	rest := strings.TrimSpace(src[open+1 : len(src)-1])
	for rest != "" {
		q := rest[0]
		if q != '\'' && q != '"' {
			return magicExpr{}, fmt.Errorf("unquoted argument in ${%s}", src)
		}
		closeAt := strings.IndexByte(rest[1:], q)
		if closeAt < 0 {
			return magicExpr{}, fmt.Errorf("unterminated argument in ${%s}", src)
		}
		e.args = append(e.args, rest[1:1+closeAt])
		rest = strings.TrimSpace(rest[2+closeAt:])
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return magicExpr{}, fmt.Errorf("expected ',' between arguments in ${%s}", src)
		}
		rest = strings.TrimSpace(rest[1:])
		if rest == "" {
			return magicExpr{}, fmt.Errorf("trailing ',' in ${%s}", src)
		}
	}
	return e, nil
}

// resolver replaces the magic variables of a parsed s.yaml the way
// Serverless Devs does, with placeholders for what comes from the
// deployer's machine.
type resolver struct {
	doc map[string]any // the whole s.yaml, where vars and resources are looked up
}

// resolve returns a copy of v with every ${...} replaced. A string that is
// exactly one expression takes the referenced value whatever its type; an
// expression inside a longer string is spliced in as text.
func (r resolver) resolve(v any, depth int) (any, error) {
	if depth > maxResolveDepth {
		return nil, fmt.Errorf("references nested deeper than %d: a cycle?", maxResolveDepth)
	}
	switch v := v.(type) {
	case string:
		return r.resolveString(v, depth)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			resolved, err := r.resolve(item, depth)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = resolved
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			resolved, err := r.resolve(item, depth)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = resolved
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r resolver) resolveString(s string, depth int) (any, error) {
	segs, err := splitMagic(s)
	if err != nil {
		return nil, err
	}
	if len(segs) == 1 && segs[0].expr != nil {
		return r.eval(*segs[0].expr, segs[0].source, depth)
	}
	var b strings.Builder
	for _, seg := range segs {
		if seg.expr == nil {
			b.WriteString(seg.literal)
			continue
		}
		v, err := r.eval(*seg.expr, seg.source, depth)
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case string, int, float64, bool:
			fmt.Fprint(&b, v)
		default:
			return nil, fmt.Errorf("%s inside %q is a %T, not text", seg.source, s, v)
		}
	}
	return b.String(), nil
}

func (r resolver) eval(e magicExpr, source string, depth int) (any, error) {
	switch {
	case e.call == "env" && len(e.args) == 1:
		return envPlaceholder(e.args[0]), nil
	case e.call == "env" && len(e.args) == 2:
		return e.args[1], nil
	case e.call == "config" && len(e.args) == 1 && e.args[0] == "AccountID":
		return accountIDPlaceholder, nil
	case e.call != "":
		return nil, fmt.Errorf("%w: %s", errUnsupported, source)
	case len(e.path) >= 2 && e.path[0] == "vars":
		return r.lookup(source, depth, e.path...)
	case len(e.path) >= 4 && e.path[0] == "resources" && e.path[2] == "props":
		return r.lookup(source, depth, e.path...)
	default:
		return nil, fmt.Errorf("%w: %s", errUnsupported, source)
	}
}

// lookup follows path from the document's root and resolves what it finds,
// since a var may itself hold ${...}.
func (r resolver) lookup(source string, depth int, path ...string) (any, error) {
	var v any = r.doc
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not inside a mapping", source, key)
		}
		if v, ok = m[key]; !ok {
			return nil, fmt.Errorf("%s: nothing is declared at %q", source, key)
		}
	}
	return r.resolve(v, depth+1)
}

// resolveDocument returns doc with every magic variable replaced.
func resolveDocument(doc map[string]any) (map[string]any, error) {
	v, err := resolver{doc: doc}.resolve(doc, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func TestResolveDocument(t *testing.T) {
	doc := map[string]any{
		"vars": map[string]any{
			"region": "${env('REGION', 'cn-hangzhou')}",
			"name":   "${env(\"NAME\")}",
			"both":   "${vars.region}/${vars.name}",
			"sizes":  map[string]any{"cpu": 0.05},
			"loop":   "${vars.loop}",
		},
		"resources": map[string]any{
			"reply": map[string]any{"props": map[string]any{"functionName": "${vars.name}"}},
		},
	}
	tests := []struct {
		in   any
		want any
	}{
		{"plain", "plain"},
		{42, 42},
		{"${env('TIMEOUT','55')}", "55"},
		{"${ env( 'TIMEOUT' , '' ) }", ""},
		{"${env('A_KEY')}", "PLACEHOLDER_A_KEY"},
		{"${env('P', 'a}b')}", "a}b"},
		{"${vars.region}", "cn-hangzhou"},
		{"${vars.both}", "cn-hangzhou/PLACEHOLDER_NAME"},
		{"${vars.sizes}", map[string]any{"cpu": 0.05}},
		{"${vars.sizes.cpu}", 0.05},
		{"http://oss-${vars.region}-internal.aliyuncs.com", "http://oss-cn-hangzhou-internal.aliyuncs.com"},
		{"acs:ram::${config('AccountID')}:role/r", "acs:ram::PLACEHOLDER_ACCOUNT_ID:role/r"},
		{"${resources.reply.props.functionName}", "PLACEHOLDER_NAME"},
		{[]any{"${vars.region}", map[string]any{"k": "${vars.name}"}}, []any{"cn-hangzhou", map[string]any{"k": "PLACEHOLDER_NAME"}}},
	}
	r := resolver{doc: doc}
	for _, tt := range tests {
		got, err := r.resolve(tt.in, 0)
		if err != nil {
			t.Errorf("resolve(%#v): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("resolve(%#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestResolveRefusesWhatItCannotResolve(t *testing.T) {
	doc := map[string]any{"vars": map[string]any{
		"loop": "${vars.loop}",
		"obj":  map[string]any{"a": "b"},
	}}
	bad := []string{
		"${vars.missing}",
		"${vars.loop}",
		"${file('./x')}",
		"${config('AccessKeyID')}",
		"${this.name}",
		"${resources.reply.output.url}",
		"${env('UNTERMINATED'",
		"${env(NOQUOTES)}",
		"${env('A',)}",
		"x-${vars.obj}",
	}
	r := resolver{doc: doc}
	for _, s := range bad {
		if got, err := r.resolve(s, 0); err == nil {
			t.Errorf("resolve(%q) = %#v, want an error", s, got)
		}
	}
}
