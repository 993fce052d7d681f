package conversation

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// cardCallbackURL is the URL each message's event names for the presses
// of the robot's cards, which the reply function registers with DingTalk:
// CARD_CALLBACK_URL when set, else the conversation function's own
// address as DingTalk reached it, with PressPath. The message's request
// shows that address: its Host, which FC's HTTP trigger passes through
// unchanged (docs/protocols.md §8) and routes by, so that on FC it is the
// trigger's domain (<id>.<region>.fcapp.run) or a custom domain bound to
// the function; and its scheme: https (FC's trigger serves https; the
// request the function sees is plain HTTP either way), but for an IP
// address or localhost, a local run, which is http unless a proxy in front
// says https (X-Forwarded-Proto). A Host that is not a plausible
// host name gives no URL: the caller logs it, and the reply function
// registers nothing.
func (h *Handler) cardCallbackURL(r *http.Request) (string, bool) {
	if h.presses.CallbackURL != "" {
		return h.presses.CallbackURL, true
	}
	host, local, ok := plausibleHost(r.Host)
	if !ok {
		return "", false
	}
	scheme := "https"
	if local {
		scheme = "http"
	}
	if r.TLS != nil {
		scheme = "https"
	}
	// X-Forwarded-Proto is the client's to write on FC's trigger: only a
	// local run, behind a proxy of its own, may say http; a public host's
	// presses go over https, whatever a message's request claims.
	if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); proto != "" && local {
		switch p := strings.ToLower(strings.TrimSpace(proto)); p {
		case "http", "https":
			scheme = p
		}
	}
	return scheme + "://" + host + PressPath, true
}

// plausibleHost checks a Host header: a DNS name (letters, digits and
// hyphens in dot-separated labels of at most 63, 253 in all), an IPv4
// address or a bracketed IPv6 one, and an optional port from 1 to 65535.
// It returns the host in lower case, and whether it is an IP address or
// localhost.
func plausibleHost(host string) (_ string, local, ok bool) {
	if host == "" || len(host) > 253+6 {
		return "", false, false
	}
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return "", false, false
		}
	} else if strings.ContainsAny(host, ":[]") {
		return "", false, false
	}
	name = strings.ToLower(name)
	if ip := net.ParseIP(name); ip != nil {
		if ip.To4() == nil && !strings.HasPrefix(host, "[") {
			return "", false, false
		}
		return strings.ToLower(host), true, true
	}
	if !dnsName(name) {
		return "", false, false
	}
	return strings.ToLower(host), name == "localhost", true
}

// dnsName reports whether s is a host name: dot-separated labels of
// letters, digits and hyphens, none empty, none longer than 63, none
// starting or ending with a hyphen, at most 253 in all.
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
