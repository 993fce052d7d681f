package search

import (
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Bounds of a result's fields, in runes (URL in bytes): enough for what
// people read, small enough that a hostile answer cannot flood the model.
const (
	maxTitleRunes     = 200
	maxSnippetRunes   = 800
	maxSiteRunes      = 60
	maxPublishedRunes = 32
	maxURLBytes       = 2048
)

// Result is one web page a search found.
type Result struct {
	// Title is one line, without the characters that would break a
	// markdown link around it ([ ] ( ) < > \ become their full-width
	// forms).
	Title string
	// URL is an absolute http or https URL, without user info, with the
	// characters that would end a markdown link's destination
	// percent-encoded.
	URL string
	// Snippet is what the page says about the query: Bocha's summary when
	// it gave one, else its snippet; Tavily's content.
	Snippet string
	// Site is the site's name (Bocha's siteName), else the URL's host.
	Site string
	// Published is when the page was published, as the service said it:
	// a date (2006-01-02) when it said it in a form we read, else its
	// text; often empty.
	Published string
}

// result builds a Result from a service's fields, or reports that the page
// cannot be shown (no http(s) URL).
func result(title, rawURL, snippet, site, published string) (Result, bool) {
	u, ok := safeURL(rawURL)
	if !ok {
		return Result{}, false
	}
	r := Result{
		Title:     cleanTitle(title, maxTitleRunes),
		URL:       u,
		Snippet:   cleanText(snippet, maxSnippetRunes),
		Site:      cleanTitle(site, maxSiteRunes),
		Published: cleanDate(published),
	}
	if r.Site == "" {
		r.Site = hostOf(u)
	}
	if r.Title == "" {
		r.Title = r.Site
	}
	return r, true
}

// cleanText makes s valid UTF-8 on one line: control and invisible
// formatting characters (bidi overrides among them) dropped, runs of
// white space made one space, at most n runes (the last an ellipsis when
// it was cut).
func cleanText(s string, n int) string {
	if n <= 0 {
		return ""
	}
	// A field of megabytes is cut before the work, with room for the
	// white space that collapses.
	s = truncateRunes(s, 4*n+64)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		switch {
		case unicode.IsSpace(r) || r == 0:
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || isBidiControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > n {
		return truncateRunes(out, n-1) + "…"
	}
	return out
}

// isBidiControl reports the characters that reorder text for display: a
// title could use them to show one link's text as another's.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// titleMarks are replaced in titles by their full-width forms: in a
// markdown link's text, brackets end it, "](" starts its destination, a
// backslash escapes the closing bracket, and < > may open an HTML tag.
var titleMarks = strings.NewReplacer(
	"[", "［", "]", "］", "(", "（", ")", "）", "<", "＜", ">", "＞", "\\", "＼",
)

// cleanTitle makes s, cleaned and bounded as cleanText does, fit to stand
// between [ and ] in a markdown link.
func cleanTitle(s string, n int) string {
	return titleMarks.Replace(cleanText(s, n))
}

// urlMarks are percent-encoded in URLs: each would end or split a markdown
// link's destination, or open HTML.
var urlMarks = strings.NewReplacer(
	" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", `"`, "%22", "'", "%27",
	"`", "%60", "\\", "%5C", "[", "%5B", "]", "%5D", "{", "%7B", "}", "%7D", "|", "%7C", "^", "%5E",
)

// safeURL returns raw as a URL fit for a markdown link, when it is an
// absolute http(s) URL with a host and without user info. Anything else
// (javascript:, data:, a relative or scheme-relative link, "user@host"
// tricks) is refused: it must never become a link the user clicks.
func safeURL(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxURLBytes || !utf8.ValidString(raw) ||
		strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) || isBidiControl(r) }) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Opaque != "" || u.User != nil {
		return "", false
	}
	host := u.Hostname()
	// An IPv6 literal's brackets cannot be told from markdown's; no search
	// result needs one.
	if host == "" || strings.ContainsAny(u.Host, "[]") || strings.ContainsFunc(host, notHostRune) {
		return "", false
	}
	u.Scheme = scheme
	if strings.ContainsFunc(host, func(r rune) bool { return r > unicode.MaxASCII }) {
		// An internationalised name in its ASCII form, which every client
		// reads; url.URL would percent-encode it instead.
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return "", false
		}
		if port := u.Port(); port != "" {
			ascii += ":" + port
		}
		u.Host = ascii
	}
	s := urlMarks.Replace(u.String())
	if len(s) > maxURLBytes {
		return "", false
	}
	return s, true
}

// notHostRune reports a rune that is not in a host name: ASCII letters,
// digits, '-', '.', '_' and, for internationalised names, letters and
// digits of other scripts.
func notHostRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
		return false
	case r > unicode.MaxASCII:
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	}
	return true
}

// hostOf returns u's host name, without a leading "www.".
func hostOf(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(parsed.Hostname(), "www.")
}

// dateLayouts are the forms of dates the services were seen to use:
// RFC 3339 (Bocha's datePublished, "2024-07-22T11:58:00+08:00", and
// dateLastCrawled, "2024-07-22T00:00:00Z") and RFC 1123 (Tavily's
// published_date of news, "Mon, 20 Jan 2025 15:00:00 GMT").
var dateLayouts = []string{time.RFC3339, time.RFC1123, time.RFC1123Z, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// cleanDate returns the date of s as 2006-01-02 when it is in a form we
// read; else s cleaned and bounded. Bocha's times are Beijing time whatever
// their zone says, so the day is kept as written, not converted.
func cleanDate(s string) string {
	s = cleanText(s, maxPublishedRunes)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")
		}
	}
	if len(s) > 10 {
		if t, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return t.Format("2006-01-02")
		}
	}
	return s
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
