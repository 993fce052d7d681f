package oss

import "testing"

func TestOnlyALocalServerIsAddressedPathStyle(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"oss-cn-hangzhou-internal.aliyuncs.com":        false,
		"https://oss-cn-hangzhou.aliyuncs.com":         false,
		"http://oss-cn-hangzhou-internal.aliyuncs.com": false, // s.yaml's mount endpoint, copied
		"http://127.0.0.1:9000":                        true,
		"127.0.0.1:9000":                               true,
		"https://[::1]:9000":                           true,
		"http://localhost:9000":                        true,
		"http://minio.internal:9000":                   true,
	} {
		if got := pathStyle(endpoint); got != want {
			t.Errorf("pathStyle(%q) = %v, want %v", endpoint, got, want)
		}
	}
	if got := regionOf("oss-cn-shenzhen-internal.aliyuncs.com"); got != "cn-shenzhen" {
		t.Errorf("regionOf = %q", got)
	}
}
