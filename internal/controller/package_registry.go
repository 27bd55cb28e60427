package controller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"oras.land/oras-go/v2/registry/remote"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Keys of resources.PackagesSecret.
const (
	secretUsername  = resources.PackagesSecretUsername
	secretPassword  = resources.PackagesSecretPassword
	secretHtpasswd  = resources.PackagesSecretHtpasswd
	secretTicketKey = resources.PackagesSecretTicketKey
	// registryUser is the one registry account, shared by the operator,
	// the fetcher and the build steps that talk to the registry.
	registryUser = "faas"
	// registryPort is the registry Service's port.
	registryPort = 5000
)

// addressTTL is how long a Service's ClusterIP is reused before it is read
// again; credentialsTTL the same for the credentials.
const (
	addressTTL     = 30 * time.Second
	credentialsTTL = time.Minute
)

// PackageRegistry is how the operator reaches the platform's registry and
// node-local fetcher, both Services of the platform's namespace found by
// their ClusterIP (clusters need no DNS), and the credentials of both,
// which it creates once.
type PackageRegistry struct {
	// Reader reads the Secrets and Services uncached: the operator does
	// not watch every Secret and Service of the cluster for three objects.
	Reader client.Reader
	// Writer creates the Secret.
	Writer client.Writer
	// Namespace is the platform's namespace.
	Namespace string
	// RegistryService and FetcherService name the two Services.
	RegistryService, FetcherService string
	// Timeout bounds one request to the registry.
	Timeout time.Duration

	mu         sync.Mutex
	secret     *packageSecret
	secretRead time.Time
	addrs      map[string]string
	addrRead   map[string]time.Time
}

type packageSecret struct {
	username, password string
	ticketKey          []byte
	// registry is a registry of the user's choice (host[:port][/path]),
	// "" for the platform's own; plainHTTP is true for the platform's own
	// unless the Secret says otherwise.
	registry  string
	plainHTTP bool
}

// credentials returns the registry's credentials and the ticket key,
// creating resources.PackagesSecret with random ones the first time.
func (p *PackageRegistry) credentials(ctx context.Context) (*packageSecret, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Read again now and then: an admin may rotate the credentials.
	if p.secret != nil && time.Since(p.secretRead) < credentialsTTL {
		return p.secret, nil
	}
	key := client.ObjectKey{Namespace: p.Namespace, Name: resources.PackagesSecret}
	var s corev1.Secret
	err := p.Reader.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		s, err = p.createSecret(ctx, key)
	}
	if err != nil {
		return nil, fmt.Errorf("get registry credentials %s: %w", key, err)
	}
	// Trimmed like packagebuild.LoadCredentials trims the mounted files:
	// a Secret made with kubectl --from-file keeps the editor's newline.
	trim := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	ps := &packageSecret{username: trim(secretUsername), password: trim(secretPassword), ticketKey: s.Data[secretTicketKey],
		registry: trim(resources.PackagesSecretRegistry)}
	ps.plainHTTP = ps.registry == ""
	if v, ok := s.Data[resources.PackagesSecretPlainHTTP]; ok {
		ps.plainHTTP = strings.TrimSpace(string(v)) == "true"
	}
	if len(ps.ticketKey) < 32 {
		return nil, fmt.Errorf("secret %s lacks a 32-byte %s", key, secretTicketKey)
	}
	p.secret, p.secretRead = ps, time.Now()
	return ps, nil
}

func (p *PackageRegistry) createSecret(ctx context.Context, key client.ObjectKey) (corev1.Secret, error) {
	pw := make([]byte, 24)
	tk := make([]byte, 32)
	if _, err := rand.Read(pw); err != nil {
		return corev1.Secret{}, err
	}
	if _, err := rand.Read(tk); err != nil {
		return corev1.Secret{}, err
	}
	password := base64.RawURLEncoding.EncodeToString(pw)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return corev1.Secret{}, fmt.Errorf("hash registry password: %w", err)
	}
	s := corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{resources.ManagedByLabel: resources.ManagedBy}},
		Data: map[string][]byte{
			secretUsername: []byte(registryUser), secretPassword: []byte(password),
			secretHtpasswd:  []byte(registryUser + ":" + string(hash) + "\n"),
			secretTicketKey: tk,
		},
	}
	if err := p.Writer.Create(ctx, &s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = p.Reader.Get(ctx, key, &s)
		}
		return s, err
	}
	return s, nil
}

// address returns the ClusterIP:port of the platform Service name.
func (p *PackageRegistry) address(ctx context.Context, name string, port int) (string, error) {
	p.mu.Lock()
	if a, ok := p.addrs[name]; ok && time.Since(p.addrRead[name]) < addressTTL {
		p.mu.Unlock()
		return a, nil
	}
	p.mu.Unlock()
	var svc corev1.Service
	if err := p.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, &svc); err != nil {
		return "", fmt.Errorf("get Service %s/%s: %w", p.Namespace, name, err)
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s/%s has no ClusterIP", p.Namespace, name)
	}
	a := net.JoinHostPort(ip, strconv.Itoa(port))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.addrs == nil {
		p.addrs, p.addrRead = map[string]string{}, map[string]time.Time{}
	}
	p.addrs[name], p.addrRead[name] = a, time.Now()
	return a, nil
}

// RegistryAddress is the registry's host[:port][/path]: the one the
// Secret names, or the platform's own Service's.
func (p *PackageRegistry) RegistryAddress(ctx context.Context) (string, error) {
	c, err := p.credentials(ctx)
	if err != nil {
		return "", err
	}
	if c.registry != "" {
		return c.registry, nil
	}
	return p.address(ctx, p.RegistryService, registryPort)
}

// FetchURL is the fetcher's URL of a function's artifact d.
func (p *PackageRegistry) FetchURL(ctx context.Context, namespace, name, d string) (string, error) {
	a, err := p.address(ctx, p.FetcherService, runnerapi.FetcherPort)
	if err != nil {
		return "", err
	}
	return "http://" + a + runnerapi.FetchPath + namespace + "/" + name + "/" + d, nil
}

// Repository returns a client of repository in the registry.
func (p *PackageRegistry) Repository(ctx context.Context, repository string) (*remote.Repository, error) {
	creds, err := p.credentials(ctx)
	if err != nil {
		return nil, err
	}
	addr, err := p.RegistryAddress(ctx)
	if err != nil {
		return nil, err
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := packagebuild.NewClient(addr, packagebuild.Credentials{Username: creds.username, Password: creds.password},
		packagebuild.ClientOptions{DialTimeout: timeout, ResponseHeaderTimeout: timeout})
	repo, err := packagebuild.NewRepository(addr, repository, client, creds.plainHTTP)
	if err != nil {
		return nil, err
	}
	return repo, nil
}

// TicketKey is the key of the fetcher's tickets.
func (p *PackageRegistry) TicketKey(ctx context.Context) ([]byte, error) {
	c, err := p.credentials(ctx)
	if err != nil {
		return nil, err
	}
	return c.ticketKey, nil
}

// PlainHTTP reports whether the registry is talked to over plain HTTP.
func (p *PackageRegistry) PlainHTTP(ctx context.Context) (bool, error) {
	c, err := p.credentials(ctx)
	if err != nil {
		return false, err
	}
	return c.plainHTTP, nil
}

// EnsureCredentials makes the registry's credentials and the ticket key at
// the operator's start, retrying until it can: the registry and the
// fetcher mount them and wait for them, before any package is built.
func (p *PackageRegistry) EnsureCredentials(ctx context.Context) error {
	for {
		_, err := p.credentials(ctx)
		if err == nil {
			return nil
		}
		log.FromContext(ctx).Error(err, "Failed to ensure the package registry's credentials; retrying")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}
