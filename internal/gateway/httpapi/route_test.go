package httpapi

import (
	"errors"
	"testing"
)

func TestParseInvokePath(t *testing.T) {
	cases := []struct {
		in                  string
		ns, name, path, raw string
		bad                 bool
	}{
		{in: "/invoke/hello", ns: "default", name: "hello", path: "/", raw: "/"},
		{in: "/invoke/hello/", ns: "default", name: "hello", path: "/", raw: "/"},
		{in: "/invoke/hello/a/b", ns: "default", name: "hello", path: "/a/b", raw: "/a/b"},
		{in: "/invoke/hello.team-a/x", ns: "team-a", name: "hello", path: "/x", raw: "/x"},
		{in: "/invoke/hello/a%20b", ns: "default", name: "hello", path: "/a b", raw: "/a%20b"},
		{in: "/invoke/", bad: true},
		{in: "/invoke/Hello", bad: true},
		{in: "/invoke/he_llo", bad: true},
		{in: "/invoke/-x", bad: true},
		{in: "/invoke/hello.", bad: true},
		{in: "/invoke/a.b.c", bad: true},
		{in: "/invoke/%68ello", bad: true},
		{in: "/invoke/hello/../../etc", bad: true},
		{in: "/invoke/hello/a/%2e%2e/b", bad: true},
		{in: "/invoke/hello/%zz", bad: true},
		{in: "/other/hello", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseInvokePath(tc.in, "default")
			if tc.bad {
				if !errors.Is(err, ErrBadPath) {
					t.Fatalf("err = %v, want ErrBadPath", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.fn.Namespace != tc.ns || got.fn.Name != tc.name || got.path != tc.path || got.rawPath != tc.raw {
				t.Errorf("got %+v, want %s/%s %q %q", got, tc.ns, tc.name, tc.path, tc.raw)
			}
		})
	}
}
