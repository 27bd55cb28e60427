package kubeconn

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

const kubeconfig = `apiVersion: v1
kind: Config
current-context: one
contexts:
- name: one
  context: {cluster: c1, user: u, namespace: team-a}
- name: two
  context: {cluster: c2, user: u}
clusters:
- name: c1
  cluster: {server: "https://one.example:6443"}
- name: c2
  cluster: {server: "https://two.example:6443"}
users:
- name: u
  user: {token: t}
`

func TestFlagsSelectKubeconfigContextAndNamespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args     []string
		host, ns string
	}{
		{[]string{"--kubeconfig", path}, "https://one.example:6443", "team-a"},
		{[]string{"--kubeconfig", path, "--context", "two"}, "https://two.example:6443", "default"},
		{[]string{"--kubeconfig", path, "--context", "two", "-n", "mine"}, "https://two.example:6443", "mine"},
	} {
		var f Flags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		f.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		c, err := f.Connect("faas/test")
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if c.Host != tc.host || c.Namespace != tc.ns || c.Config.UserAgent != "faas/test" {
			t.Errorf("%v: host %s namespace %s", tc.args, c.Host, c.Namespace)
		}
	}
}

func TestNoKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := (&Flags{}).Connect("faas/test")
	if !errors.Is(err, ErrNoConfig) {
		t.Errorf("Connect without any kubeconfig = %v, want ErrNoConfig", err)
	}
}
