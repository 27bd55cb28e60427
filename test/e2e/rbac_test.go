//go:build e2e

package e2e

// The gateway faces the internet, and its ClusterRole lets it patch and
// delete pods anywhere: RBAC cannot say "only pool pods, only these labels".
// config/gateway/admission-policy.yaml says it. These tests act as the
// gateway's ServiceAccount (impersonated with the admin kubeconfig) and
// check that the API server lets it do to pods exactly what the gateway does
// — hand an idle pool pod to a Function, delete pool pods — and nothing
// else. None of the pods they make ever runs (a scheduling gate holds them),
// so they need neither the gateway nor the runner image, only config/gateway
// applied. Without the policy's binding, every denial here is allowed and
// the tests fail.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/pool"
	"github.com/minifaas/minifaas/internal/resources"
)

const (
	// gatewayUser is the gateway's ServiceAccount as the API server names it.
	gatewayUser = "system:serviceaccount:faas-system:faas-gateway"
	// gatewayPolicy names the ValidatingAdmissionPolicy and its binding.
	gatewayPolicy = "faas-gateway-pod-writes"
)

var gatewayConfigOnce sync.Once

// asGateway applies config/gateway — the gateway's RBAC and admission
// policy — and returns a client that acts as the gateway's ServiceAccount.
// It does not wait for the gateway to run: only its identity is used.
func asGateway(t *testing.T) client.Client {
	t.Helper()
	gatewayConfigOnce.Do(func() {
		kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(repoRoot, "config", "gateway"))
	})
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: gatewayUser}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatalf("client as %s: %v", gatewayUser, err)
	}
	return c
}

// gatedPod is a pod that never runs: a scheduling gate keeps it unscheduled,
// so it is deleted at once and needs no image on the node.
func gatedPod(ns, name string, labels map[string]string, owners ...metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owners},
		Spec: corev1.PodSpec{
			SchedulingGates: []corev1.PodSchedulingGate{{Name: "faas.example.com/e2e-never"}},
			Containers:      []corev1.Container{{Name: "c", Image: smokeImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
}

// idlePoolLabels are an idle pool pod's labels, without the pool's name:
// an operator running meanwhile must not count these pods in its pool.
func idlePoolLabels() map[string]string {
	return map[string]string{
		resources.PoolStateLabel: resources.PoolIdle,
		resources.RuntimeLabel:   string(faasv1.RuntimePython),
		resources.ComponentLabel: "pool",
		resources.ManagedByLabel: resources.ManagedBy,
	}
}

func createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatalf("create pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return pod
}

// controllerRef makes obj the controller of a pod: the operator makes a
// RuntimePool its pods' controller with blockOwnerDeletion, the gateway
// hands a pod to a Function without it.
func controllerRef(kind string, obj client.Object, blockOwnerDeletion bool) metav1.OwnerReference {
	ref := metav1.OwnerReference{APIVersion: faasv1.GroupVersion.String(), Kind: kind,
		Name: obj.GetName(), UID: obj.GetUID(), Controller: ptr.To(true)}
	if blockOwnerDeletion {
		ref.BlockOwnerDeletion = ptr.To(true)
	}
	return ref
}

// handOver is the gateway's own hand-over patch of a pool pod to fn.
func handOver(t *testing.T, fn *faasv1.Function) []byte {
	t.Helper()
	spec := pool.SpecFor(fn)
	if spec == nil {
		t.Fatalf("function %s cannot be served by a pool", fn.Name)
	}
	patch, err := pool.AdoptPatch(pool.Owner{Function: client.ObjectKeyFromObject(fn), UID: fn.UID,
		CodeHash: resources.CodeHash(fn), SpecHash: spec.Hash})
	if err != nil {
		t.Fatal(err)
	}
	return patch
}

// withMeta returns the merge patch with more metadata fields merged in.
func withMeta(t *testing.T, patch []byte, meta map[string]any) []byte {
	t.Helper()
	var p map[string]map[string]any
	if err := json.Unmarshal(patch, &p); err != nil {
		t.Fatal(err)
	}
	for k, v := range meta {
		if m, ok := v.(map[string]any); ok {
			if into, ok := p["metadata"][k].(map[string]any); ok {
				for mk, mv := range m {
					into[mk] = mv
				}
				continue
			}
		}
		p["metadata"][k] = v
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// podWrite is one request the gateway could make about a pod; dryRun runs
// it through admission without changing anything.
type podWrite func(ctx context.Context, c client.Client, pod *corev1.Pod, dryRun bool) error

func patchWith(pt types.PatchType, body []byte) podWrite {
	return func(ctx context.Context, c client.Client, pod *corev1.Pod, dryRun bool) error {
		var opts []client.PatchOption
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		return c.Patch(ctx, pod.DeepCopy(), client.RawPatch(pt, body), opts...)
	}
}

func mergePatch(body []byte) podWrite { return patchWith(types.MergePatchType, body) }

func deletePod(ctx context.Context, c client.Client, pod *corev1.Pod, dryRun bool) error {
	var opts []client.DeleteOption
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	return c.Delete(ctx, pod.DeepCopy(), opts...)
}

// policyDenial returns nil when err is the gateway's admission policy
// refusing a request with a message containing want, and what else it is
// otherwise.
func policyDenial(err error, want string) error {
	switch {
	case err == nil:
		return errors.New("allowed")
	case !apierrors.IsForbidden(err):
		return fmt.Errorf("failed otherwise: %w", err)
	case !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+gatewayPolicy+"'"):
		return fmt.Errorf("denied, but not by %s: %w", gatewayPolicy, err)
	case !strings.Contains(err.Error(), want):
		return fmt.Errorf("denied without saying %q: %w", want, err)
	}
	return nil
}

// policyAwaited is set once a test has given the policy time to come into
// force, so a missing policy fails every later check at once.
var policyAwaited atomic.Bool

// expectDenied checks that the gateway may not make the write to pod, and
// that the pod is unchanged after trying. A policy just applied takes a
// moment to be in force in the API server, so write is first tried with
// dry-run (admission runs, nothing changes), the first time for up to 10 s.
func expectDenied(t *testing.T, gw client.Client, pod *corev1.Pod, what, want string, write podWrite) {
	t.Helper()
	ctx := context.Background()
	var before corev1.Pod
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &before); err != nil {
		t.Fatal(err)
	}
	wait := 10 * time.Second
	if policyAwaited.Swap(true) {
		wait = 0
	}
	deadline := time.Now().Add(wait)
	for {
		err := policyDenial(write(ctx, gw, pod, true), want)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the gateway may %s (dry-run): %v", what, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := policyDenial(write(ctx, gw, pod, false), want); err != nil {
		t.Errorf("the gateway may %s: %v", what, err)
	}
	var after corev1.Pod
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &after); err != nil {
		t.Errorf("after trying to %s: %v", what, err)
	} else if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("after trying to %s, pod %s changed: labels %v, owners %v", what, pod.Name, after.Labels, after.OwnerReferences)
	}
}

// handOverAndImage is a JSON patch that makes the gateway's hand-over to fn
// and also gives the pod's container another image: what someone holding
// the gateway's token would like to do.
func handOverAndImage(t *testing.T, fn *faasv1.Function, image string) []byte {
	t.Helper()
	owner := controllerRef("Function", fn, false)
	ops := []map[string]any{
		{"op": "add", "path": "/metadata/labels/faas.example.com~1pool-state", "value": resources.PoolSpecialized},
		{"op": "add", "path": "/metadata/labels/faas.example.com~1function", "value": fn.Name},
		{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1component", "value": "function"},
		{"op": "add", "path": "/metadata/annotations", "value": map[string]string{resources.CodeHashAnnotation: resources.CodeHash(fn)}},
		{"op": "replace", "path": "/metadata/ownerReferences", "value": []metav1.OwnerReference{owner}},
		{"op": "replace", "path": "/spec/containers/0/image", "value": image},
	}
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomName is prefix and six random hex digits.
func randomName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func TestRBACGatewayCannotWritePodsInKubeSystem(t *testing.T) {
	gw := asGateway(t)
	// Even a pod that looks like a pool pod: kube-system holds none.
	pod := createPod(t, gatedPod("kube-system", randomName("faas-rbac-e2e"), idlePoolLabels()))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
	addLabel := []byte(`{"metadata":{"labels":{"faas.example.com/e2e":"x"}}}`)
	const want = "may not write pods in namespace kube-system"
	expectDenied(t, gw, pod, "label a kube-system pod", want, mergePatch(addLabel))
	expectDenied(t, gw, pod, "change a kube-system pod's image", want,
		patchWith(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/containers/0/image","value":"evil:1"}]`)))
	expectDenied(t, gw, pod, "delete a kube-system pod", want, deletePod)
}

func TestRBACGatewayCannotWriteForeignPods(t *testing.T) {
	gw := asGateway(t)
	ns := newNamespace(t, "rbac")
	fn := createPoolFunction(t, ns, "hello")
	plain := createPod(t, gatedPod(ns, "plain", map[string]string{"app": "web"}))
	// A Deployment pod of a Function: the operator's, not a pool pod.
	fnPod := createPod(t, gatedPod(ns, "fn-hello", resources.Labels(fn)))
	// A pod labelled like a pool pod by someone who may create pods, but
	// not made by the operator for a RuntimePool.
	lookalike := createPod(t, gatedPod(ns, "lookalike", idlePoolLabels()))
	for _, pod := range []*corev1.Pod{plain, fnPod, lookalike} {
		const want = "is not one"
		expectDenied(t, gw, pod, "hand pod "+pod.Name+" to a function", want, mergePatch(handOver(t, fn)))
		expectDenied(t, gw, pod, "label pod "+pod.Name, want, mergePatch([]byte(`{"metadata":{"labels":{"app":"evil"}}}`)))
		expectDenied(t, gw, pod, "delete pod "+pod.Name, want, deletePod)
	}
}

func TestRBACGatewayOnlyHandsOverPoolPods(t *testing.T) {
	gw := asGateway(t)
	ctx := context.Background()
	ns := newNamespace(t, "rbac")
	rp := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "python"},
		Spec: faasv1.RuntimePoolSpec{Size: ptr.To(int32(0))}}
	if err := k8s.Create(ctx, rp); err != nil {
		t.Fatalf("create RuntimePool: %v", err)
	}
	hello := createPoolFunction(t, ns, "hello")
	other := createPoolFunction(t, ns, "other")
	pod := createPod(t, gatedPod(ns, "pool-python-a", idlePoolLabels(), controllerRef("RuntimePool", rp, true)))
	idle := createPod(t, gatedPod(ns, "pool-python-b", idlePoolLabels(), controllerRef("RuntimePool", rp, true)))

	ok := handOver(t, hello)
	const (
		onlyHandOver = "only to hand it to a Function"
		onlyKeys     = "may change only the labels"
		spec         = "may not change the spec"
	)
	for _, c := range []struct {
		what, want string
		write      podWrite
	}{
		{"change a pool pod's image", spec,
			patchWith(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/containers/0/image","value":"evil:1"}]`))},
		{"hand over a pool pod and change its image", spec,
			patchWith(types.JSONPatchType, handOverAndImage(t, hello, "evil:1"))},
		{"set a pool pod's deadline", spec,
			mergePatch([]byte(`{"spec":{"activeDeadlineSeconds":1}}`))},
		{"add a finalizer in a hand-over", spec,
			mergePatch(withMeta(t, ok, map[string]any{"finalizers": []string{"example.com/keep"}}))},
		{"add a label in a hand-over", onlyKeys,
			mergePatch(withMeta(t, ok, map[string]any{"labels": map[string]any{"app": "web"}}))},
		{"drop the managed-by label in a hand-over", onlyKeys,
			mergePatch(withMeta(t, ok, map[string]any{"labels": map[string]any{resources.ManagedByLabel: nil}}))},
		{"add an annotation in a hand-over", onlyKeys,
			mergePatch(withMeta(t, ok, map[string]any{"annotations": map[string]any{"example.com/x": "y"}}))},
		{"label a pool pod as a function's without handing it over", onlyHandOver,
			mergePatch([]byte(`{"metadata":{"labels":{"faas.example.com/function":"hello"}}}`))},
		{"label a pool pod for one function and give it to another", onlyHandOver,
			mergePatch(withMeta(t, handOver(t, other), map[string]any{"labels": map[string]any{resources.FunctionLabel: "hello"}}))},
		{"set a component other than function", onlyHandOver,
			mergePatch(withMeta(t, ok, map[string]any{"labels": map[string]any{resources.ComponentLabel: "web"}}))},
		{"hand over a pool pod but keep its RuntimePool owner", onlyHandOver,
			mergePatch(withMeta(t, ok, map[string]any{"ownerReferences": []metav1.OwnerReference{
				controllerRef("Function", hello, false), {APIVersion: faasv1.GroupVersion.String(), Kind: "RuntimePool", Name: rp.Name, UID: rp.UID}}}))},
		{"give a pool pod a non-Function owner", onlyHandOver,
			mergePatch(withMeta(t, ok, map[string]any{"ownerReferences": []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "hello", UID: hello.UID, Controller: ptr.To(true)}}}))},
		{"block the Function's deletion on a pool pod", onlyHandOver,
			mergePatch(withMeta(t, ok, map[string]any{"ownerReferences": []metav1.OwnerReference{controllerRef("Function", hello, true)}}))},
	} {
		expectDenied(t, gw, pod, c.what, c.want, c.write)
	}

	// The hand-over the gateway makes is allowed, and so is its retry.
	for _, what := range []string{"hand-over", "retried hand-over"} {
		if err := gw.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, ok)); err != nil {
			t.Fatalf("the gateway's %s of a pool pod was refused: %v", what, err)
		}
	}
	var got corev1.Pod
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &got); err != nil {
		t.Fatal(err)
	}
	if got.Labels[resources.PoolStateLabel] != resources.PoolSpecialized || got.Labels[resources.FunctionLabel] != "hello" ||
		len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != hello.UID {
		t.Fatalf("after the hand-over: labels %v, owners %v", got.Labels, got.OwnerReferences)
	}
	// A specialized pod stays its function's.
	const serves = "already serves function hello"
	expectDenied(t, gw, pod, "hand a specialized pod to another function", serves, mergePatch(handOver(t, other)))
	expectDenied(t, gw, pod, "change the code a specialized pod is said to run", serves,
		mergePatch([]byte(`{"metadata":{"annotations":{"faas.example.com/code-hash":"0000"}}}`)))

	// Pool pods are deleted, idle (a failed hand-over) or specialized (an
	// idle function, old code).
	for _, p := range []*corev1.Pod{idle, pod} {
		if err := gw.Delete(ctx, p.DeepCopy()); err != nil {
			t.Errorf("the gateway may not delete pool pod %s: %v", p.Name, err)
		}
	}
}

// TestRBACGatewayPolicyTypeChecks checks the policy's CEL against the Pod
// schema: the API server accepts expressions that name a missing field and
// only warns, and such an expression would deny every gateway write.
func TestRBACGatewayPolicyTypeChecks(t *testing.T) {
	asGateway(t)
	var vap admissionregistrationv1.ValidatingAdmissionPolicy
	eventually(t, 10*time.Second, "the policy is type-checked", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: gatewayPolicy}, &vap); err != nil {
			return err
		}
		if vap.Status.ObservedGeneration != vap.Generation || vap.Status.TypeChecking == nil {
			return fmt.Errorf("status %+v at generation %d", vap.Status, vap.Generation)
		}
		return nil
	})
	for _, w := range vap.Status.TypeChecking.ExpressionWarnings {
		t.Errorf("%s: %s", w.FieldRef, w.Warning)
	}
	if vap.Spec.FailurePolicy == nil || *vap.Spec.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy %v, want Fail", vap.Spec.FailurePolicy)
	}
}

func TestRBACGatewayReadsNoPodsAndHasNoPodSubresources(t *testing.T) {
	asGateway(t)
	ctx := context.Background()
	check := func(resource, subresource, verb string, want bool) {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   gatewayUser,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:faas-system", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "default", Verb: verb, Resource: resource, Subresource: subresource},
		}}
		if err := k8s.Create(ctx, sar); err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		if sar.Status.Allowed != want {
			t.Errorf("the gateway may %s %s/%s: %v, want %v", verb, resource, subresource, sar.Status.Allowed, want)
		}
	}
	// What it needs: the hand-over and deletes of pool pods, nothing more.
	// It reads no pods (their env and spec stay hidden from it): the
	// operator lists the pool pods it needs in RuntimePool and Function
	// statuses.
	for _, verb := range []string{"patch", "delete"} {
		check("pods", "", verb, true)
	}
	for _, verb := range []string{"get", "list", "watch", "create", "update", "deletecollection"} {
		check("pods", "", verb, false)
	}
	for _, sub := range []string{"status", "eviction", "ephemeralcontainers", "resize", "binding", "exec", "attach", "portforward", "proxy", "log"} {
		for _, verb := range []string{"get", "create", "update", "patch"} {
			check("pods", sub, verb, false)
		}
	}
}

// createPoolFunction creates a Function a pool pod can serve, without
// waiting for an operator: these tests need only the object and its UID.
func createPoolFunction(t *testing.T, ns, name string) *faasv1.Function {
	t.Helper()
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: faasv1.FunctionSpec{Code: helloCode}}
	if err := k8s.Create(context.Background(), fn); err != nil {
		t.Fatalf("create Function %s: %v", name, err)
	}
	return fn
}

// TestStatusWritesAreTheOperatorsOnly: the gateway acts on the pool pods
// that Function and RuntimePool statuses list, so a user whose Role grants
// those status subresources (as "faas.example.com: *" does) is still
// denied by config/operator/status-policy.yaml; an address that is not an
// IP is refused by the schema whoever writes it.
func TestStatusWritesAreTheOperatorsOnly(t *testing.T) {
	ctx := context.Background()
	kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(repoRoot, "config", "operator"))
	ns := newNamespace(t, "status-policy")
	const user = "e2e-namespace-admin"
	kubectl(t, "create", "role", "faas-all", "-n", ns, "--verb=*", "--resource=functions.faas.example.com,functions.faas.example.com/status,runtimepools.faas.example.com,runtimepools.faas.example.com/status")
	kubectl(t, "create", "rolebinding", "faas-all", "-n", ns, "--role=faas-all", "--user="+user)
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	as, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	fn := createPoolFunction(t, ns, "victim")
	rp := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pool"}, Spec: faasv1.RuntimePoolSpec{Size: ptr.To[int32](0)}}
	if err := as.Create(ctx, rp); err != nil {
		t.Fatalf("the namespace admin creates a RuntimePool: %v", err)
	}
	for _, tc := range []struct {
		name  string
		obj   client.Object
		patch string
	}{
		{"functions/status", fn, `{"status":{"poolPods":[{"name":"pool-python-aaaaa","podIP":"10.66.0.1","ready":true}]}}`},
		{"runtimepools/status", rp, `{"status":{"idlePods":[{"name":"pool-python-aaaaa","podIP":"10.66.0.1","ready":true}]}}`},
	} {
		err := as.Status().Patch(ctx, tc.obj, client.RawPatch(types.MergePatchType, []byte(tc.patch)))
		if err == nil || !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "only the faas-operator") {
			t.Errorf("a namespace admin wrote %s: %v", tc.name, err)
		}
	}
	// Even a cluster admin cannot list a host name as a pod's address.
	bad := `{"status":{"idlePods":[{"name":"p","podIP":"attacker.example.com","ready":true}]}}`
	if err := k8s.Status().Patch(ctx, rp, client.RawPatch(types.MergePatchType, []byte(bad))); err == nil || !strings.Contains(err.Error(), "podIP must be an IP address") {
		t.Errorf("a host name as podIP: %v", err)
	}
	// A pool's runtime cannot change under its pods.
	patch := client.MergeFrom(rp.DeepCopy())
	rp.Spec.Runtime = faasv1.RuntimeNodeJS
	if err := as.Patch(ctx, rp, patch); err == nil || !strings.Contains(err.Error(), "runtime is immutable") {
		t.Errorf("changed a pool's runtime: %v", err)
	}
}
