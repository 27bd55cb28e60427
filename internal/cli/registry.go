package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/minifaas/minifaas/internal/cli/portforward"
	"github.com/minifaas/minifaas/internal/resources"
)

// The package registry's Service, as config/operator installs it, and the
// Secret with its credentials, which the operator makes in the Service's
// namespace.
const (
	registryNamespace = "faas-system"
	registryService   = "faas-registry"
	registryPort      = 5000
	registrySecret    = resources.PackagesSecret
	// Keys of registrySecret.
	registryUsernameKey = "username"
	registryPasswordKey = "password"
	// RegistryEnv names the environment variable with the registry's URL,
	// which replaces the port-forward.
	RegistryEnv = "FAAS_REGISTRY"
	// RegistryServiceEnv names the environment variable with the
	// registry's Service, as namespace/name.
	RegistryServiceEnv = "FAAS_REGISTRY_SERVICE"
)

// registryFlags are deploy's flags that find the registry.
type registryFlags struct {
	url, service string
}

// registryConn is a repository of the package registry to push to; close
// ends the port-forward, if any.
type registryConn struct {
	storage content.Storage
	// where says how it was reached, for messages.
	where string
	close func()
}

// openRegistry reaches repository of the platform's package registry:
// --registry URL, else $FAAS_REGISTRY, else a port-forward to a ready pod
// of the registry's Service (--registry-service, else
// $FAAS_REGISTRY_SERVICE, else faas-system/faas-registry), with the
// credentials of the Secret faas-packages in the Service's namespace.
func (a *app) openRegistry(ctx context.Context, f registryFlags, repository string) (*registryConn, error) {
	if a.env.Registry != nil {
		s, err := a.env.Registry(ctx, repository)
		if err != nil {
			return nil, err
		}
		return &registryConn{storage: s, where: "Env.Registry", close: func() {}}, nil
	}
	ns, svc, err := a.registryService(f.service)
	if err != nil {
		return nil, err
	}
	user, password, err := a.registryCredentials(ctx, ns)
	if err != nil {
		return nil, err
	}
	rc := &registryConn{close: func() {}}
	var host string
	plain := true
	switch u, from := a.registryURL(f.url); {
	case u != "":
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" || trimSlash(parsed.Path) != "" {
			return nil, codeErrorf(ExitUsage, "%s %q: want the registry's http:// or https:// URL without a path, like http://localhost:5000", from, u)
		}
		host, plain, rc.where = parsed.Host, parsed.Scheme == "http", u
	default:
		conn, err := a.connect()
		if err != nil {
			return nil, err
		}
		fw, err := portforward.Open(ctx, conn.Config, conn.Clientset, portforward.Target{Namespace: ns, Service: svc, Port: registryPort})
		if err != nil {
			return nil, registryForwardError(ns, svc, err)
		}
		host = "127.0.0.1:" + strconv.Itoa(int(fw.LocalPort))
		rc.where = fmt.Sprintf("port-forward to pod %s/%s", ns, fw.Pod)
		rc.close = fw.Close
	}
	repo, err := remote.NewRepository(host + "/" + repository)
	if err != nil {
		rc.close()
		return nil, fmt.Errorf("registry repository %s/%s: %w", host, repository, err)
	}
	repo.PlainHTTP = plain
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: retry.NewTransport(http.DefaultTransport)},
		Cache:      auth.NewCache(),
		Credential: auth.StaticCredential(host, auth.Credential{Username: user, Password: password}),
	}
	rc.storage = repo
	return rc, nil
}

// registryURL is --registry, else $FAAS_REGISTRY, and which it was.
func (a *app) registryURL(flag string) (string, string) {
	if flag != "" {
		return flag, "--registry"
	}
	if env := a.env.Getenv(RegistryEnv); env != "" {
		return env, "$" + RegistryEnv
	}
	return "", ""
}

// registryService is the registry's Service: --registry-service, else
// $FAAS_REGISTRY_SERVICE, else faas-system/faas-registry.
func (a *app) registryService(flag string) (ns, name string, err error) {
	v, from := flag, "--registry-service"
	if v == "" {
		v, from = a.env.Getenv(RegistryServiceEnv), "$"+RegistryServiceEnv
	}
	if v == "" {
		return registryNamespace, registryService, nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", codeErrorf(ExitUsage, "%s %q: want the registry's Service as namespace/name, like %s/%s", from, v, registryNamespace, registryService)
	}
	return ns, name, nil
}

// registryCredentials reads the registry's username and password from the
// Secret the operator makes.
func (a *app) registryCredentials(ctx context.Context, ns string) (user, password string, err error) {
	conn, err := a.connect()
	if err != nil {
		return "", "", err
	}
	var s corev1.Secret
	err = conn.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: registrySecret}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return "", "", codeErrorf(ExitUnreachable,
			"no Secret %s in %s, which holds the package registry's credentials: the operator makes it when it starts with packages enabled; is it installed and running? (kubectl apply --server-side -k config/operator; kubectl -n %s get deploy faas-operator)",
			registrySecret, ns, ns)
	case apierrors.IsForbidden(err):
		return "", "", codeErrorf(ExitError,
			"you may not read Secret %s in %s, which holds the package registry's credentials that deploying a package needs: ask a cluster admin to grant get on it, e.g. kubectl -n %s create role faas-packages-reader --verb=get --resource=secrets --resource-name=%s, bound to you with kubectl -n %s create rolebinding",
			registrySecret, ns, ns, registrySecret, ns)
	case err != nil:
		return "", "", fmt.Errorf("get Secret %s/%s: %w", ns, registrySecret, err)
	}
	user, password = string(s.Data[registryUsernameKey]), string(s.Data[registryPasswordKey])
	if user == "" || password == "" {
		return "", "", codeErrorf(ExitError,
			"Secret %s in %s has no %s or no %s: the operator writes both when it makes it; delete the Secret and restart the operator (kubectl -n %s rollout restart deploy faas-operator), then restart the registry",
			registrySecret, ns, registryUsernameKey, registryPasswordKey, ns)
	}
	return user, password, nil
}

// registryForwardError explains a failed port-forward to the registry.
func registryForwardError(ns, svc string, err error) error {
	switch {
	case errors.Is(err, portforward.ErrNoService):
		return codeErrorf(ExitUnreachable,
			"the package registry is not installed: no Service %s in %s (it comes with config/operator: kubectl apply --server-side -k config/operator), or set --registry-service or $%s",
			svc, ns, RegistryServiceEnv)
	case errors.Is(err, portforward.ErrNoReadyPod):
		return codeErrorf(ExitUnreachable,
			"the package registry has no ready pod (kubectl -n %s get pods -l app.kubernetes.io/name=%s shows why)", ns, svc)
	case apierrors.IsForbidden(err):
		return codeErrorf(ExitError,
			"you may not port-forward to the package registry (svc/%s in %s), which deploying a package needs: ask a cluster admin to grant get on services, list on pods and create on pods/portforward in %s, or pass --registry URL: %s",
			svc, ns, ns, apiMessage(err))
	}
	if code, msg := explain(err); code == ExitUnreachable || code == ExitInterrupted {
		return withCode(code, errors.New(msg))
	}
	return codeErrorf(ExitUnreachable, "cannot port-forward to the package registry (svc/%s in %s): %v; or pass --registry URL", svc, ns, err)
}

// pushError explains a failed push of repository to the registry reached
// at where, whose Secret is in ns.
func pushError(err error, where, repository, ns string) error {
	var er *errcode.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusUnauthorized {
		return codeErrorf(ExitError,
			"the package registry refused the credentials of Secret %s in %s (%s): they no longer match its htpasswd; restart the registry (kubectl -n %s rollout restart deploy %s)",
			registrySecret, ns, where, ns, registryService)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) && !errors.As(err, &er) {
		return codeErrorf(ExitUnreachable, "cannot reach the package registry (%s): %v", where, ue.Err)
	}
	return fmt.Errorf("push the package to %s (%s): %w", repository, where, err)
}
