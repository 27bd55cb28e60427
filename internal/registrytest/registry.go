package registrytest

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a running registry.
type Registry struct {
	// Addr is the recording proxy's host:port, the address to use.
	Addr string
	// Root is the registry's storage directory.
	Root string
	// Username and Password are its one htpasswd account.
	Username, Password string

	mu       sync.Mutex // guards requests and hook
	requests []Request
	hook     func(*http.Request)
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// Start runs the registry on a free loopback port, with its own storage
// and htpasswd account, behind a recording proxy, until the test ends; its
// log is shown if the test fails.
func Start(t testing.TB) *Registry {
	t.Helper()
	bin, root := binary(t)
	dir := t.TempDir()
	r := &Registry{Root: filepath.Join(dir, "storage"), Username: "faas", Password: "test-password"}
	// The lowest cost: the registry checks every request's password.
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(r.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", filepath.Join(root, "config", "registry", "config.yml"))
	cmd.Env = append(os.Environ(),
		"OTEL_TRACES_EXPORTER=none",
		"REGISTRY_HTTP_ADDR=127.0.0.1:0",
		"REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:0",
		"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+r.Root,
		"REGISTRY_AUTH_HTPASSWD_REALM=faas-registry",
		"REGISTRY_AUTH_HTPASSWD_PATH="+htpasswd,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // guards log
		log    strings.Builder
		addrCh = make(chan string, 1)
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("registry log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case direct := <-addrCh:
		r.Addr = r.proxy(t, direct)
	case <-done:
		t.Fatal("the registry exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("the registry did not listen within 30s")
	}
	return r
}
