package search

import "testing"

func TestSafeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://a.example/x", "https://a.example/x"},
		{"  http://a.example:8080/x?q=1#f  ", "http://a.example:8080/x?q=1#f"},
		{"HTTPS://a.example/", "https://a.example/"},
		{"https://例子.测试:8443/路径", "https://xn--fsqu00a.xn--0zwm56d:8443/%E8%B7%AF%E5%BE%84"},
		{"https://a_b.example/", "https://a_b.example/"},
		{"https://a.example/x_(y)", "https://a.example/x_%28y%29"},
		{"https://a.example/a b?c=d e", "https://a.example/a%20b?c=d%20e"},
		{"https://a.example/?q=<script>", "https://a.example/?q=%3Cscript%3E"},
		{"https://mparticle.uc.cn/article_org.html?uc_param_str=frdn#!wm_cid=63!!wm_id=b3", "https://mparticle.uc.cn/article_org.html?uc_param_str=frdn#!wm_cid=63!!wm_id=b3"},
		{"javascript:alert(1)", ""},
		{"javascript://a.example/%0Aalert(1)", ""},
		{"data:text/html,x", ""},
		{"mailto:a@a.example", ""},
		{"//a.example/x", ""},
		{"/x", ""},
		{"https://u:p@a.example/", ""},
		{"https://(/", ""},
		{"https://a.example\\@b.example/", ""},
		{"https://[::1]/", ""},
		{"https:a.example", ""},
		{"https://a.example/\u202egnp.exe", ""},
		{"https://a.example/\x7f", ""},
		{"http://", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := safeURL(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("safeURL(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestCleanDate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024-07-22T11:58:00+08:00", "2024-07-22"},
		{"2024-07-22T00:00:00Z", "2024-07-22"},
		{"2025-02-23T08:18:30.123Z", "2025-02-23"},
		{"Mon, 20 Jan 2025 15:00:00 GMT", "2025-01-20"},
		{"2024-07-22 11:58", "2024-07-22"},
		{"3 days ago", "3 days ago"},
		{"", ""},
		{"2024-07-22\n[x](y)", "2024-07-22"},
	}
	for _, tt := range tests {
		if got := cleanDate(tt.in); got != tt.want {
			t.Errorf("cleanDate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Go  1.25\n发布 ", "Go 1.25 发布"},
		{"a](javascript:x) [b", "a］（javascript:x） ［b"},
		{`<img src=x> \`, "＜img src=x＞ ＼"},
		{"\u202eevil\u200f\x00 \u2028x", "evil x"},
		{"\xff\xfe标题", "标题"},
	}
	for _, tt := range tests {
		if got := cleanTitle(tt.in, maxTitleRunes); got != tt.want {
			t.Errorf("cleanTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := cleanTitle(string(make([]rune, 0))+repeat("长", 1000), 10); got != repeat("长", 9)+"…" {
		t.Errorf("a long title is cut to %q", got)
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
