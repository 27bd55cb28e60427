//go:build e2e

package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/resources"
)

// buildWheel makes a pure-Python wheel of one module, as `pip wheel` would:
// the module, METADATA, WHEEL and a RECORD with every file's hash. No index
// is reachable here; builds install it from a local --find-links.
func buildWheel(t *testing.T, name, version string, files map[string]string) (string, []byte) {
	t.Helper()
	distInfo := name + "-" + version + ".dist-info/"
	all := map[string]string{}
	for k, v := range files {
		all[k] = v
	}
	all[distInfo+"METADATA"] = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	all[distInfo+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: minifaas-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(path, content string) {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	for path, content := range all {
		sum := sha256.Sum256([]byte(content))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", path, base64.RawURLEncoding.EncodeToString(sum[:]), len(content))
		write(path, content)
	}
	record.WriteString(distInfo + "RECORD,,\n")
	write(distInfo+"RECORD", record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return name + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

// serveWheels runs a local package index in the cluster: python3's
// http.server, in the runner image, serving the wheels from a ConfigMap.
// It returns the index's URL, for pip's --find-links.
func serveWheels(t *testing.T, wheels map[string][]byte) string {
	t.Helper()
	ns := newNamespace(t, "wheels")
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wheels"}, BinaryData: wheels}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "index", Labels: map[string]string{"app": "wheels"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext:              &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(65532))},
			Containers: []corev1.Container{{
				Name: "index", Image: "faas-python-runner:dev", ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"python3", "-m", "http.server", "8080", "--directory", "/wheels"},
				VolumeMounts: []corev1.VolumeMount{{Name: "wheels", MountPath: "/wheels"}},
			}},
			Volumes: []corev1.Volume{{Name: "wheels", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "wheels"}}}}},
		},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	var ip string
	eventually(t, 60*time.Second, "the wheel index answers", func() error {
		var p corev1.Pod
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		if p.Status.PodIP == "" {
			return fmt.Errorf("no IP yet")
		}
		ip = p.Status.PodIP
		resp, err := http.Get("http://" + net.JoinHostPort(ip, "8080") + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return "http://" + net.JoinHostPort(ip, "8080") + "/"
}

// setPipSettings makes the platform's pip Secret point at a local index
// only, and removes it when the test ends.
func setPipSettings(t *testing.T, findLinks string) {
	t.Helper()
	host := strings.Split(strings.TrimPrefix(findLinks, "http://"), ":")[0]
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: resources.PipSecret},
		StringData: map[string]string{"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": findLinks, "PIP_TRUSTED_HOST": host},
	}
	ctx := context.Background()
	_ = k8s.Delete(ctx, s)
	if err := k8s.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
}

// registryRepository is a client of a function's repository in the
// platform's registry, reached at its ClusterIP from the node with the
// platform's credentials.
func registryRepository(t *testing.T, ns, name string) *remote.Repository {
	t.Helper()
	ctx := context.Background()
	var svc corev1.Service
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "faas-system", Name: "faas-registry"}, &svc); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "faas-system", Name: resources.PackagesSecret}, &s); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, "5000")
	repo, err := remote.NewRepository(addr + "/" + packages.Repository(ns, name))
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = &auth.Client{Client: http.DefaultClient, Cache: auth.NewCache(),
		Credential: auth.StaticCredential(addr, auth.Credential{Username: string(s.Data["username"]), Password: string(s.Data["password"])})}
	return repo
}
