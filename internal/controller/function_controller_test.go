package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

const waitFor = 10 * time.Second

// eventually retries check until it returns nil or waitFor passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newFunction creates a Function in a fresh namespace.
func newFunction(t *testing.T, mut ...func(*faasv1.Function)) *faasv1.Function {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + hex.EncodeToString(b)}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	fn := &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns.Name},
		Spec: faasv1.FunctionSpec{
			Code: "def handle(req):\n    return 'hello from runner'\n", MaxReplicas: 3,
		},
	}
	for _, m := range mut {
		m(fn)
	}
	if err := k8s.Create(ctx, fn); err != nil {
		t.Fatalf("create Function: %v", err)
	}
	return fn
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func deploymentOf(t *testing.T, fn *faasv1.Function) *appsv1.Deployment {
	t.Helper()
	var dep appsv1.Deployment
	eventually(t, "Deployment exists", func() error {
		return k8s.Get(context.Background(), key(fn.Namespace, resources.DeploymentName(fn)), &dep)
	})
	return &dep
}

func readyCondition(t *testing.T, fn *faasv1.Function, reason string) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	eventually(t, "Ready reason "+reason, func() error {
		var cur faasv1.Function
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(fn), &cur); err != nil {
			return err
		}
		got = meta.FindStatusCondition(cur.Status.Conditions, faasv1.ConditionReady)
		if got == nil || got.Reason != reason {
			return fmt.Errorf("Ready condition = %+v", got)
		}
		return nil
	})
	return got
}

func TestFunctionBecomesOwnedConfigMapDeploymentAndService(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	dep := deploymentOf(t, fn)
	if *dep.Spec.Replicas != 0 {
		t.Errorf("a new Function with minReplicas 0 has %d replicas, want 0", *dep.Spec.Replicas)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != testImage {
		t.Errorf("image = %s, want %s", img, testImage)
	}
	var cm corev1.ConfigMap
	var svc corev1.Service
	eventually(t, "ConfigMap and Service exist", func() error {
		if err := k8s.Get(ctx, key(fn.Namespace, "fn-hello-code"), &cm); err != nil {
			return err
		}
		return k8s.Get(ctx, key(fn.Namespace, "fn-hello"), &svc)
	})
	if cm.Data[resources.CodeFile] != fn.Spec.Code {
		t.Errorf("ConfigMap data = %q, want the code", cm.Data[resources.CodeFile])
	}
	for _, obj := range []client.Object{dep, &cm, &svc} {
		ref := metav1.GetControllerOf(obj)
		if ref == nil || ref.Kind != "Function" || ref.Name != "hello" {
			t.Errorf("%T %s: controller = %+v, want Function hello", obj, obj.GetName(), ref)
		}
		if obj.GetLabels()[resources.FunctionLabel] != "hello" {
			t.Errorf("%T %s lacks the function label", obj, obj.GetName())
		}
	}
	cond := readyCondition(t, fn, faasv1.ReasonScaledToZero)
	if cond.Status != metav1.ConditionTrue {
		t.Errorf("a function scaled to zero is ready to be called; got %s", cond.Status)
	}
	var cur faasv1.Function
	_ = k8s.Get(ctx, client.ObjectKeyFromObject(fn), &cur)
	if cur.Status.Selector != resources.FunctionLabel+"=hello" || cur.Status.CodeHash == "" || cur.Status.ObservedGeneration != cur.Generation {
		t.Errorf("status = %+v, want selector, code hash and observed generation", cur.Status)
	}
}

func TestScaleSubresourceScalesDeploymentWithinBoundsAndRecordsEvent(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	deploymentOf(t, fn)

	scale := &autoscalingv1.Scale{}
	if err := k8s.SubResource("scale").Get(ctx, fn, scale); err != nil {
		t.Fatalf("get scale: %v", err)
	}
	scale.Spec.Replicas = 2
	if err := k8s.SubResource("scale").Update(ctx, fn, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("update scale: %v", err)
	}
	eventually(t, "Deployment scaled to 2", func() error {
		dep := deploymentOf(t, fn)
		if *dep.Spec.Replicas != 2 {
			return fmt.Errorf("replicas = %d", *dep.Spec.Replicas)
		}
		return nil
	})

	patch := client.MergeFrom(fn.DeepCopy())
	fn.Spec.Replicas = ptr.To[int32](50)
	if err := k8s.Patch(ctx, fn, patch); err != nil {
		t.Fatalf("patch replicas: %v", err)
	}
	eventually(t, "Deployment clamped to maxReplicas 3", func() error {
		if r := *deploymentOf(t, fn).Spec.Replicas; r != 3 {
			return fmt.Errorf("replicas = %d", r)
		}
		return nil
	})

	eventually(t, "Scaled events", func() error {
		var evs eventsv1.EventList
		if err := k8s.List(ctx, &evs, client.InNamespace(fn.Namespace)); err != nil {
			return err
		}
		var notes []string
		for _, e := range evs.Items {
			if e.Reason == "Scaled" {
				notes = append(notes, e.Note)
			}
		}
		joined := strings.Join(notes, "|")
		if !strings.Contains(joined, "from 0 to 2") || !strings.Contains(joined, "from 2 to 3") {
			return fmt.Errorf("Scaled events = %q", joined)
		}
		return nil
	})
	readyCondition(t, fn, faasv1.ReasonStarting) // no kubelet here: pods never become ready
}

func TestEditedOrDeletedChildrenAreRestored(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	dep := deploymentOf(t, fn)

	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Replicas = ptr.To[int32](5)
	dep.Spec.Template.Spec.Containers[0].Image = "evil:latest"
	if err := k8s.Patch(ctx, dep, patch); err != nil {
		t.Fatalf("edit Deployment: %v", err)
	}
	eventually(t, "Deployment restored", func() error {
		d := deploymentOf(t, fn)
		if *d.Spec.Replicas != 0 || d.Spec.Template.Spec.Containers[0].Image != testImage {
			return fmt.Errorf("replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
		return nil
	})

	svc := &corev1.Service{}
	eventually(t, "Service exists", func() error { return k8s.Get(ctx, key(fn.Namespace, "fn-hello"), svc) })
	if err := k8s.Delete(ctx, svc); err != nil {
		t.Fatalf("delete Service: %v", err)
	}
	eventually(t, "Service recreated", func() error {
		var again corev1.Service
		if err := k8s.Get(ctx, key(fn.Namespace, "fn-hello"), &again); err != nil {
			return err
		}
		if again.UID == svc.UID {
			return fmt.Errorf("still the deleted Service")
		}
		return nil
	})
}

func TestCodeChangeUpdatesConfigMapAndRollsPodTemplate(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	before := deploymentOf(t, fn).Spec.Template.Annotations[resources.CodeHashAnnotation]

	patch := client.MergeFrom(fn.DeepCopy())
	fn.Spec.Code = "def handle(req):\n    return 'v2'\n"
	if err := k8s.Patch(ctx, fn, patch); err != nil {
		t.Fatalf("patch code: %v", err)
	}
	eventually(t, "new code rolled out", func() error {
		var cm corev1.ConfigMap
		if err := k8s.Get(ctx, key(fn.Namespace, "fn-hello-code"), &cm); err != nil {
			return err
		}
		after := deploymentOf(t, fn).Spec.Template.Annotations[resources.CodeHashAnnotation]
		if cm.Data[resources.CodeFile] != fn.Spec.Code || after == before {
			return fmt.Errorf("ConfigMap %q, hash %s -> %s", cm.Data[resources.CodeFile], before, after)
		}
		return nil
	})
}

func TestStatusMirrorsDeployment(t *testing.T) {
	fn := newFunction(t, func(f *faasv1.Function) { f.Spec.MinReplicas = 1 })
	ctx := context.Background()
	dep := deploymentOf(t, fn)
	readyCondition(t, fn, faasv1.ReasonStarting)

	// The deployment controller does not run in envtest; play its part.
	dep.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
	if err := k8s.Status().Update(ctx, dep); err != nil {
		t.Fatalf("update Deployment status: %v", err)
	}
	cond := readyCondition(t, fn, faasv1.ReasonAvailable)
	if cond.Status != metav1.ConditionTrue || cond.Message != "1 of 1 pods ready" {
		t.Errorf("Ready = %+v", cond)
	}
	var cur faasv1.Function
	_ = k8s.Get(ctx, client.ObjectKeyFromObject(fn), &cur)
	if cur.Status.Replicas != 1 || cur.Status.ReadyReplicas != 1 {
		t.Errorf("status replicas %d ready %d, want 1 and 1", cur.Status.Replicas, cur.Status.ReadyReplicas)
	}
}

func TestLoadFailureReachesReadyCondition(t *testing.T) {
	fn := newFunction(t, func(f *faasv1.Function) { f.Spec.MinReplicas = 1 })
	ctx := context.Background()
	dep := deploymentOf(t, fn)

	// A runner pod of the current code whose container exited with the
	// loader's termination message, as the kubelet would report it.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "fn-hello-x", Namespace: fn.Namespace, Labels: resources.SelectorLabels(fn),
			Annotations: dep.Spec.Template.Annotations,
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "runner", Image: testImage}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "runner", Image: testImage,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: runnerapi.LoadFailedExitCode, Message: "SyntaxError: expected ':' (function.py, line 1)",
		}},
	}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("update pod status: %v", err)
	}
	cond := readyCondition(t, fn, faasv1.ReasonLoadFailed)
	if cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "SyntaxError: expected ':' (function.py, line 1)") {
		t.Errorf("Ready = %+v, want False with the syntax error", cond)
	}
}

func TestSpecializedPoolPodsAreListedInStatusAndDeletedWhenTheyEnd(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	labels := resources.SelectorLabels(fn)
	labels[resources.PoolStateLabel] = resources.PoolSpecialized
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pool-python-abcde", Namespace: fn.Namespace, Labels: labels,
			Annotations: map[string]string{resources.SpecHashAnnotation: "spec-1"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: faasv1.GroupVersion.String(), Kind: "Function",
				Name: fn.Name, UID: fn.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "runner", Image: testImage}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.2.3",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("update pod status: %v", err)
	}
	want := faasv1.PoolPod{Name: pod.Name, PodIP: "10.1.2.3", Ready: true, SpecHash: "spec-1"}
	eventually(t, "the pool pod in status", func() error {
		var cur faasv1.Function
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(fn), &cur); err != nil {
			return err
		}
		if len(cur.Status.PoolPods) != 1 || cur.Status.PoolPods[0] != want {
			return fmt.Errorf("status.poolPods %+v", cur.Status.PoolPods)
		}
		return nil
	})

	// Its runner ended: a pool pod never restarts, so the operator deletes
	// it and the status lists it no more.
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Conditions = nil
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("update pod status: %v", err)
	}
	eventually(t, "the ended pool pod deleted and unlisted", func() error {
		var cur faasv1.Function
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(fn), &cur); err != nil {
			return err
		}
		var p corev1.Pod
		err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), &p)
		if len(cur.Status.PoolPods) != 0 || (err == nil && p.DeletionTimestamp.IsZero()) {
			return fmt.Errorf("status.poolPods %+v, pod get: %v", cur.Status.PoolPods, err)
		}
		return nil
	})
}
