package packagebuild_test

import (
	"testing"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

func TestRedact(t *testing.T) {
	pip := map[string][]byte{
		"PIP_INDEX_URL":       []byte("https://builder:s3cr%40t-pass@pypi.example.com/simple\n"),
		"PIP_EXTRA_INDEX_URL": []byte("https://ghp_TOKEN1234@git.example.com/simple https://mirror.example.org/simple"),
		"PIP_TRUSTED_HOST":    []byte("pypi.example.com"),
		"PIP_NO_INDEX":        []byte("0"),
		"PIP_EMPTY":           nil,
		"API_KEY":             []byte("k3y-abcdef"),
	}
	tests := []struct {
		name, msg, want string
		secrets         map[string][]byte
	}{
		{"nothing secret", "ERROR: No matching distribution found for nosuchdep==1.0", "ERROR: No matching distribution found for nosuchdep==1.0", pip},
		{"whole URL value", "Looking in indexes: https://builder:s3cr%40t-pass@pypi.example.com/simple",
			"Looking in indexes: <redacted>", pip},
		{"userinfo of a URL", "GET https://builder:s3cr%40t-pass@pypi.example.com/simple/six/ failed",
			"GET <redacted>/six/ failed", pip},
		{"userinfo of another URL", "GET https://builder:s3cr%40t-pass@other.example.com/six/ failed",
			"GET https://<redacted>@other.example.com/six/ failed", pip},
		{"decoded password", "auth failed for builder:s3cr@t-pass", "auth failed for <redacted>", pip},
		{"password alone", "password s3cr@t-pass rejected; s3cr%40t-pass", "password <redacted> rejected; <redacted>", pip},
		{"token as user name", "fetch https://ghp_TOKEN1234@git.example.com/x: 403; token ghp_TOKEN1234",
			"fetch https://<redacted>@git.example.com/x: 403; token <redacted>", pip},
		{"one of several URLs", "from https://mirror.example.org/simple/six", "from <redacted>/six", pip},
		{"plain value", "Authorization: k3y-abcdef.", "Authorization: <redacted>.", pip},
		{"every occurrence", "k3y-abcdefk3y-abcdef and k3y-abcdef", "<redacted> and <redacted>", pip},
		{"short values are settings", "exit 0 after 10s", "exit 0 after 10s", pip},
		{"empty message", "", "", pip},
		{"no secrets", "k3y-abcdef", "k3y-abcdef", nil},
		{"overlapping secrets", "xx abcdefgh yy", "xx <redacted> yy", map[string][]byte{"a": []byte("abcdef"), "b": []byte("defgh")}},
		{"cut at the start", "…-abcdef is wrong", "…<redacted> is wrong", pip},
		{"cut at the end", "Authorization: k3y-ab…", "Authorization: <redacted>…", pip},
		{"cut by the kubelet's tail", "TOKEN1234@git.example.com/simple: 401", "<redacted>: 401", pip},
		{"cut at a line's start", "pip install failed:\ncdefgh is wrong", "pip install failed:\n<redacted> is wrong", map[string][]byte{"k": []byte("abcdefgh")}},
		{"cut at a line's end", "ends with abcdef\nnext", "ends with <redacted>\nnext", map[string][]byte{"k": []byte("abcdefgh")}},
		{"too short a part at a cut", "password is fine", "password is fine", map[string][]byte{"k": []byte("s3cr@t-pass")}},
		{"not at a cut", "xcdefgh is fine", "xcdefgh is fine", map[string][]byte{"k": []byte("abcdefghi")}},
		{"a URL without user information", "see https://mirror.example.org/ for more", "see https://mirror.example.org/ for more", map[string][]byte{"k": []byte("https://mirror.example.org/simple")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := packagebuild.Redact(tc.msg, tc.secrets); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}
