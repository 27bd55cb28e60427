package packagebuild_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

func TestValidateRequirementsLines(t *testing.T) {
	const hash = "--hash=sha256:2f1b5e3fa4b40cf1a4d1ac0ef0c1bd19d6d95d92fbd8a3b9ab1b6e34bd4a5ff1"
	allowed := []string{
		"",
		"   ",
		"# a comment",
		"   # an indented comment --index-url https://evil/",
		"six",
		"six==1.16.0",
		"Django>=4.2,<5",
		"requests [security, socks] >= 2.8.1, == 2.8.*",
		"requests[security]==2.31.0",
		"zope.interface~=6.0",
		"backports.zoneinfo===0.2.1",
		"numpy!=1.24.0",
		"torch==2.3.0+cpu",
		"pkg (>=1.0, <2)",
		`typing-extensions; python_version < "3.11"`,
		`pywin32 >= 306 ; sys_platform == 'win32' and platform_machine != "arm64"`,
		`uvloop; (sys_platform != "win32" and implementation_name == "cpython") or extra == 'fast'`,
		"six==1.16.0 # pinned",
		"six==1.16.0\t# pinned, tab",
		"six==1.16.0 " + hash,
		"six==1.16.0 " + hash + " " + hash + "  # two hashes",
		"six==1.16.0 ; python_version >= '3' " + hash,
		"a",
		"A1_b-c.d",
		"six \\", // continues on an empty line
		"# comment with ünïcødé",
	}
	for _, line := range allowed {
		if err := packagebuild.ValidateRequirements(strings.NewReader(line + "\n")); err != nil {
			t.Errorf("%q refused: %v", line, err)
		}
	}

	refused := []struct{ line, want string }{
		{"-r /proc/self/environ", "pip options are not allowed (the platform's pip settings choose the index): -r"},
		{"--requirement=/proc/self/environ", "pip options are not allowed (the platform's pip settings choose the index): --requirement"},
		{"-r/proc/self/environ", "pip options are not allowed (the platform's pip settings choose the index): -r"},
		{"-c constraints.txt", "pip options are not allowed (the platform's pip settings choose the index): -c"},
		{"-e git+https://example.com/x.git#egg=x", "pip options are not allowed (the platform's pip settings choose the index): -e"},
		{"--editable ./x", "pip options are not allowed (the platform's pip settings choose the index): --editable"},
		{"-i https://evil.example/simple", "pip options are not allowed (the platform's pip settings choose the index): -i"},
		{"--index-url https://evil.example/simple", "pip options are not allowed (the platform's pip settings choose the index): --index-url"},
		{"--index-url=https://evil.example/simple", "pip options are not allowed (the platform's pip settings choose the index): --index-url"},
		{"--extra-index-url https://evil.example/simple", "pip options are not allowed (the platform's pip settings choose the index): --extra-index-url"},
		{"-f https://evil.example/wheels/", "pip options are not allowed (the platform's pip settings choose the index): -f"},
		{"--find-links=/tmp", "pip options are not allowed (the platform's pip settings choose the index): --find-links"},
		{"--trusted-host evil.example", "pip options are not allowed (the platform's pip settings choose the index): --trusted-host"},
		{"--no-index", "pip options are not allowed (the platform's pip settings choose the index): --no-index"},
		{"--pre", "pip options are not allowed (the platform's pip settings choose the index): --pre"},
		{"  --pre", "pip options are not allowed (the platform's pip settings choose the index): --pre"},
		{"six --index-url https://evil.example/simple", "pip options are not allowed (the platform's pip settings choose the index): --index-url"},
		{"six==1.0 --config-settings=x=y", "pip options are not allowed (the platform's pip settings choose the index): --config-settings"},
		{"six==1.0 --global-option=--x", "pip options are not allowed (the platform's pip settings choose the index): --global-option"},
		{`six ; python_version > "3 -r /proc/self/environ"`, "pip options are not allowed (the platform's pip settings choose the index): -r"},
		{"six==1.0 --hash=md5:0123", "only --hash=<sha256|sha384|sha512>:<hex digest> may follow a requirement, not --hash=md5:0123"},
		{"six==1.0 --hash sha256:0123", "only --hash=<sha256|sha384|sha512>:<hex digest> may follow a requirement, not --hash"},
		{"six @ https://evil.example/six.whl", "direct references (name @ URL) are not allowed"},
		{"six@file:///tmp/six.whl", "direct references (name @ URL) are not allowed"},
		{"https://evil.example/six-1.16.0.tar.gz", "URLs are not allowed"},
		{"git+https://example.com/x.git", "URLs are not allowed"},
		{"file:/etc/passwd", "URLs are not allowed"},
		{"./vendor/six", "local paths are not allowed"},
		{".", "local paths are not allowed"},
		{"/proc/self/environ", "local paths are not allowed"},
		{"vendor/six-1.16.0-py3-none-any.whl", "local paths are not allowed"},
		{`..\six`, "local paths are not allowed"},
		{"six-1.16.0-py3-none-any.whl", "archive files are not allowed"},
		{"six.tar.gz", "archive files are not allowed"},
		{"six.ZIP[extra]", "archive files are not allowed"},
		{"six==1.0.tgz", "archive files are not allowed"},
		{"six==${PIP_INDEX_URL}", "environment variables (${...}) are not allowed"},
		{`six; python_version == "${PIP_INDEX_URL}"`, "environment variables (${...}) are not allowed"},
		{`six; python_version == "$X"`, "not a requirement specifier"},
		{"six=1.0", "not a requirement specifier"},
		{"six 1.0", "not a requirement specifier"},
		{"six==", "not a requirement specifier"},
		{"six[extra", "not a requirement specifier"},
		{"six (>=1.0", "not a requirement specifier"},
		{"-six", "pip options are not allowed"},
		{"_six", "not a requirement specifier"},
		{"six-", "not a requirement specifier"},
		{"six:1.0", "not a requirement specifier"},
		{"six#no-space-so-not-a-comment", "not a requirement specifier"},
		{`six; python_version < "3.11`, "not a requirement specifier"},
		{"six; python_version ? 3", "not a requirement specifier"},
		{"six==1.0\u00a0# pip strips this as a comment", "whitespace other than spaces and tabs are not allowed (U+00A0)"},
		{"\u00a0# -r /proc/self/environ \\", "whitespace other than spaces and tabs are not allowed"},
		{"six\v-r /proc/self/environ", "control characters"},
		{"six\f-r /proc/self/environ", "control characters"},
		{"six\x1c-r /proc/self/environ", "control characters"},
		{"# x\u2028-r /proc/self/environ", "control characters"},
		{"# x\u0085-r /proc/self/environ", "control characters"},
		{"six\r-r /proc/self/environ", "control characters"},
		{"six\x00", "control characters"},
		{"# caf\xe9", "not valid UTF-8"},
	}
	for _, tc := range refused {
		err := packagebuild.ValidateRequirements(strings.NewReader("six\n" + tc.line + "\n"))
		var re *packagebuild.RequirementsError
		if !errors.Is(err, packagebuild.ErrInvalidRequirements) || !errors.As(err, &re) || re.Line != 2 {
			t.Errorf("%q: %v, want a RequirementsError of line 2", tc.line, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "requirements.txt line 2: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %q, want it to say %q", tc.line, err, tc.want)
		}
	}
}

func TestValidateRequirementsFile(t *testing.T) {
	tests := []struct {
		name, file string
		want       string // "" accepts
	}{
		{"pip-compile with hashes", "# generated\nsix==1.16.0 \\\n    --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926 \\\n    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n    # via -r requirements.in\nidna==3.7\n", ""},
		{"CRLF", "six==1.16.0\r\nidna\r\n", ""},
		{"byte order mark", "\xef\xbb\xbfsix\n", ""},
		{"no final newline", "six", ""},
		{"utf-8 declaration", "# -*- coding: utf-8 -*-\nsix\n", ""},
		{"message names the line", "six\n\n# ok\n--index-url https://evil.example/simple\n", "requirements.txt line 4: pip options are not allowed (the platform's pip settings choose the index): --index-url"},
		{"a continuation joins an option", "six==1.0 \\\n--index-url https://evil.example/simple\n", "requirements.txt line 1: pip options are not allowed (the platform's pip settings choose the index): --index-url"},
		{"a continuation at the end", "six\nidna \\\n", ""},
		{"a continued comment does not swallow the next line", "# comment \\\n-r /proc/self/environ\n", "requirements.txt line 2: pip options"},
		{"a continuation into a comment", "six \\\n# -r x\n-r /proc/self/environ\n", "requirements.txt line 3: pip options"},
		{"another encoding", "# -*- coding: utf-7 -*-\nsix==1.0+AAoALQ-r\n", "requirements.txt line 1: encoding declarations other than utf-8 are not allowed: utf-7"},
		{"another encoding, second line", "six\n#coding=latin-1\n", "requirements.txt line 2: encoding declarations"},
		{"UTF-16", "\xff\xfes\x00i\x00x\x00", "not valid UTF-8"},
		{"too large", strings.Repeat("six==1.16.0\n", 64<<10/12+1), "requirements.txt: larger than 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := packagebuild.ValidateRequirements(strings.NewReader(tc.file))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, packagebuild.ErrInvalidRequirements)):
				t.Errorf("ValidateRequirements = %v, want %q", err, tc.want)
			}
		})
	}
	if err := packagebuild.ValidateRequirements(strings.NewReader(strings.Repeat("#", 64<<10))); err != nil {
		t.Errorf("a file of exactly 64 KiB refused: %v", err)
	}
}
