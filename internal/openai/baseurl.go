package openai

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DefaultBaseURL is the endpoint used when the configuration names none.
const DefaultBaseURL = "https://api.openai.com/v1"

// versionSegment matches an API version in a URL path: v1, v4, v1beta...
var versionSegment = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]*)?$`)

// normalizeBaseURL turns the endpoint a user configured into the base that
// "/chat/completions" is appended to. Users copy endpoints from provider
// documentation in every form: with or without /v1 (the Python original
// took "https://api.openai.com"), with a trailing slash, or as the full
// chat-completions URL. A path that holds a version segment anywhere is
// kept as it is, because some providers put more after it
// (Gemini's /v1beta/openai, Cloudflare's /v1/<account>/<gateway>/openai);
// any other path gets /v1.
func normalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; the reason alone is enough.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("openai: invalid base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("openai: invalid base URL: it must start with http:// or https://")
	case u.Host == "":
		return "", errors.New("openai: invalid base URL: it has no host")
	case u.User != nil:
		// Credentials in a URL end up in logs; the API key has its own setting.
		return "", errors.New("openai: invalid base URL: it must not hold credentials; set the API key instead")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", errors.New("openai: invalid base URL: it must not have a query or a fragment")
	}

	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/chat/completions")
	p = strings.TrimRight(p, "/")
	if !hasVersionSegment(p) {
		p += "/v1"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

func hasVersionSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if versionSegment.MatchString(seg) {
			return true
		}
	}
	return false
}
