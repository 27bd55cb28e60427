package project

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func i32(v int32) *int32 { return &v }

func TestLoad(t *testing.T) {
	const code = "def handle(req):\n    return 1\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		path    string // relative to the temp dir
		want    Settings
		entry   string
		wantErr string
	}{
		{name: "folder without faas.yaml", files: map[string]string{"My_Func/handler.py": code}, path: "My_Func",
			want: Settings{Name: "my-func"}, entry: "handler.py"},
		{name: "folder with faas.yaml", path: "f", files: map[string]string{
			"f/handler.py": code,
			"f/faas.yaml": `name: greeter
runtime: python
handler: main
env: {GREETING: hi, PORT: 8080, DEBUG: true}
min: 1
max: 3
concurrency: 4
timeout: 2m
idle: 90
`},
			want: Settings{Name: "greeter", Runtime: "python", Handler: "main",
				Env: map[string]string{"GREETING": "hi", "PORT": "8080", "DEBUG": "true"},
				Min: i32(1), Max: i32(3), Concurrency: i32(4), Timeout: secs(120), Idle: secs(90)},
			entry: "handler.py"},
		{name: "another handler file", path: "f", files: map[string]string{"f/main.py": code, "f/faas.yaml": "file: main.py\n"},
			want: Settings{Name: "f", File: "main.py"}, entry: "main.py"},
		{name: "single file", path: "resize_image.py", files: map[string]string{"resize_image.py": code, "faas.yaml": "name: ignored\n"},
			want: Settings{Name: "resize-image"}, entry: "resize_image.py"},
		{name: "no handler.py", path: "f", files: map[string]string{"f/other.py": code}, wantErr: "no handler.py in"},
		{name: "missing path", path: "nope", wantErr: "does not exist"},
		{name: "unknown field", path: "f", files: map[string]string{"f/handler.py": code, "f/faas.yaml": "maxx: 3\n"},
			wantErr: `unknown field "maxx"`},
		{name: "bad seconds", path: "f", files: map[string]string{"f/handler.py": code, "f/faas.yaml": "timeout: soon\n"},
			wantErr: `"soon" is not a number of seconds`},
		{name: "file outside", path: "f", files: map[string]string{"f/handler.py": code, "f/faas.yaml": "file: ../x.py\n"},
			wantErr: "must be inside the folder"},
		{name: "empty code", path: "f", files: map[string]string{"f/handler.py": ""}, wantErr: "is empty"},
		{name: "not UTF-8", path: "f", files: map[string]string{"f/handler.py": "x = '\xff'\n"}, wantErr: "not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			p, err := Load(filepath.Join(dir, tc.path))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalSettings(p.Settings, tc.want) {
				t.Errorf("settings = %s, want %s", dump(p.Settings), dump(tc.want))
			}
			if len(p.Sources) != 1 || p.Entry().Name != tc.entry || string(p.Entry().Content) != code {
				t.Errorf("sources = %+v", p.Sources)
			}
		})
	}
}

func TestLoadOversizedCode(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("#", 800*1024)
	write(t, dir, map[string]string{"big.py": big, "f/handler.py": big})
	// A single file is inline code only.
	if _, err := Load(filepath.Join(dir, "big.py")); err == nil || !strings.Contains(err.Error(), "at most 768 KiB") || !errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v", err)
	}
	// A folder loads; Decide makes it a package.
	p, err := Load(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entry().Content) != len(big) {
		t.Errorf("entry of %d bytes, want %d", len(p.Entry().Content), len(big))
	}
}

func TestLoadModule(t *testing.T) {
	const code = "def handle(req):\n    return 1\n"
	for _, tc := range []struct {
		name       string
		files      map[string]string
		entry      string
		module     string
		wantErr    string
		wantModErr string
	}{
		{name: "default", files: map[string]string{"handler.py": code}, entry: "handler.py", module: "handler"},
		{name: "module", files: map[string]string{"app/main.py": code, "faas.yaml": "module: app.main\n"}, entry: "app/main.py", module: "app.main"},
		{name: "module is a package", files: map[string]string{"app/__init__.py": code, "faas.yaml": "module: app\n"},
			entry: "app/__init__.py", module: "app"},
		{name: "module from file", files: map[string]string{"app/main.py": code, "faas.yaml": "file: ./app/main.py\n"},
			entry: "app/main.py", module: "app.main"},
		{name: "file and module agree", files: map[string]string{"main.py": code, "faas.yaml": "file: main.py\nmodule: main\n"},
			entry: "main.py", module: "main"},
		{name: "file and module disagree", files: map[string]string{"main.py": code, "app.py": code, "faas.yaml": "file: main.py\nmodule: app\n"},
			wantErr: "name different files"},
		{name: "module without its file", files: map[string]string{"handler.py": code, "faas.yaml": "module: app.main\n"},
			wantErr: "no app/main.py in"},
		{name: "not a module path", files: map[string]string{"handler.py": code, "faas.yaml": "module: app/main\n"},
			wantErr: "not a Python module path"},
		{name: "file that is no module", files: map[string]string{"my-handler.py": code, "faas.yaml": "file: my-handler.py\n"},
			entry: "my-handler.py", wantModErr: "is not a Python module name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			p, err := Load(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Entry().Name != tc.entry || string(p.Entry().Content) != code {
				t.Errorf("entry = %s %q, want %s", p.Entry().Name, p.Entry().Content, tc.entry)
			}
			m, err := p.Module()
			if tc.wantModErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantModErr) {
					t.Errorf("Module() = %q, %v; want an error with %q", m, err, tc.wantModErr)
				}
				return
			}
			if err != nil || m != tc.module {
				t.Errorf("Module() = %q, %v; want %q", m, err, tc.module)
			}
		})
	}
}

func secs(n int32) *Seconds { s := Seconds(n); return &s }

func equalSettings(a, b Settings) bool { return dump(a) == dump(b) }

func dump(s Settings) string {
	deref := func(p *int32) string {
		if p == nil {
			return "nil"
		}
		return strconv.Itoa(int(*p))
	}
	sec := func(p *Seconds) string {
		if p == nil {
			return "nil"
		}
		return p.String()
	}
	var env []string
	for _, k := range s.EnvNames() {
		env = append(env, k+"="+s.Env[k])
	}
	return strings.Join([]string{s.Name, s.Runtime, s.Handler, s.File, s.Module, strings.Join(env, ","),
		deref(s.Min), deref(s.Max), deref(s.Concurrency), sec(s.Timeout), sec(s.Idle)}, "|")
}

func TestOverride(t *testing.T) {
	base := Settings{Name: "a", Runtime: "python", Env: map[string]string{"A": "1", "B": "2"}, Max: i32(3), Timeout: secs(10)}
	got := base.Override(Settings{Name: "b", Module: "app.main", Env: map[string]string{"B": "20", "C": "3"}, Min: i32(0), Max: i32(4)}, []string{"A"})
	want := Settings{Name: "b", Runtime: "python", Module: "app.main", Env: map[string]string{"B": "20", "C": "3"}, Min: i32(0), Max: i32(4), Timeout: secs(10)}
	if dump(got) != dump(want) {
		t.Errorf("Override = %s, want %s", dump(got), dump(want))
	}
	if base.Env["A"] != "1" || base.Env["B"] != "2" {
		t.Errorf("Override changed its receiver's env: %v", base.Env)
	}
	if got := base.Override(Settings{}, nil); dump(got) != dump(base) {
		t.Errorf("an empty override changed %s into %s", dump(base), dump(got))
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]int32{"30": 30, "30s": 30, "2m": 120, "1h30m": 5400, "0": 0} {
		if got, err := ParseSeconds(in); err != nil || int32(got) != want {
			t.Errorf("ParseSeconds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "1.5s", "100000000h"} {
		if _, err := ParseSeconds(in); err == nil {
			t.Errorf("ParseSeconds(%q) accepted", in)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{Name: "ok-1"}, ""},
		{Settings{}, "has no name"},
		{Settings{Name: "Bad"}, "lower-case"},
		{Settings{Name: "-x"}, "lower-case"},
		{Settings{Name: strings.Repeat("a", 53)}, "longer than 52"},
		{Settings{Name: "x", Env: map[string]string{"A=B": "1"}}, `env name "A=B"`},
		{Settings{Name: "x", Module: "app.main"}, ""},
		{Settings{Name: "x", Module: "app..main"}, "not a Python module path"},
		{Settings{Name: "x", Module: "1app"}, "not a Python module path"},
	} {
		err := tc.s.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.s, err, tc.want)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for in, want := range map[string]string{"hello": "hello", "My_Func.py": "my-func", "a.b c": "a-b-c", "_x_": "x"} {
		if got := DefaultName(in); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want)
		}
	}
}
