package controller

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func exitedPod(fn *faasv1.Function, code int32, msg string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{resources.CodeHashAnnotation: resources.CodeHash(fn)}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}},
		}}},
	}
}

func readyReason(fn *faasv1.Function) string {
	return meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady).Reason
}

func TestLoadFailedComesOnlyFromTheRunnersExitCodeAndStaysForItsCode(t *testing.T) {
	fn := &faasv1.Function{Spec: faasv1.FunctionSpec{Code: "def handle(req): pass", Handler: "handle", MaxReplicas: 3, Replicas: ptrTo(int32(1))}}
	dep := &appsv1.Deployment{}

	// A crash or an OOM kill after the code loaded, with the log as its
	// message, is not a load failure.
	now, hold := time.Now(), 5*time.Minute
	setObservedStatus(fn, dep, []corev1.Pod{exitedPod(fn, 137, "Killed")}, now, hold)
	if got := readyReason(fn); got == faasv1.ReasonLoadFailed {
		t.Fatalf("a crash after load is reported %s", got)
	}
	// Nor is a package the runner could not fetch (the fetcher down): it
	// says nothing about the code.
	setObservedStatus(fn, dep, []corev1.Pod{exitedPod(fn, runnerapi.FetchFailedExitCode, "fetching package sha256:00 failed: 502 registry unreachable")}, now, hold)
	if got := readyReason(fn); got == faasv1.ReasonLoadFailed {
		t.Fatalf("a failed package fetch is reported %s", got)
	}
	setObservedStatus(fn, dep, []corev1.Pod{exitedPod(fn, runnerapi.LoadFailedExitCode, "SyntaxError (function.py, line 1)")}, now, hold)
	if got := readyReason(fn); got != faasv1.ReasonLoadFailed {
		t.Fatalf("the runner's load failure is reported %s", got)
	}
	// Scaled to zero: no pod left, the same code still fails.
	fn.Spec.Replicas = ptrTo(int32(0))
	if kept := setObservedStatus(fn, dep, nil, now.Add(time.Minute), hold); readyReason(fn) != faasv1.ReasonLoadFailed || kept <= 0 {
		t.Fatalf("at zero with the same code: %s (kept for %s), want LoadFailed", readyReason(fn), kept)
	}
	// After the hold the next call may try again.
	held := fn.DeepCopy()
	setObservedStatus(held, dep, nil, now.Add(hold+time.Second), hold)
	if got := readyReason(held); got != faasv1.ReasonScaledToZero {
		t.Fatalf("after the hold: %s, want ScaledToZero", got)
	}
	// New env (the code may import what it needs now) clears it.
	fn.Spec.Env = []corev1.EnvVar{{Name: "X", Value: "1"}}
	setObservedStatus(fn, dep, nil, now.Add(time.Minute), hold)
	if got := readyReason(fn); got != faasv1.ReasonScaledToZero {
		t.Fatalf("after an env change: %s, want ScaledToZero", got)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestPoolPodsOfListsLiveSpecializedPodsForTheGateway(t *testing.T) {
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Name: "f", UID: "uid-f"}}
	owned := func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: faasv1.GroupVersion.String(), Kind: "Function", Name: "f", UID: fn.UID, Controller: ptrTo(true)}}
	}
	pod := func(name, state string, mutate func(*corev1.Pod)) corev1.Pod {
		p := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{resources.PoolStateLabel: state},
				Annotations: map[string]string{resources.SpecHashAnnotation: "h-" + name}},
			Status: corev1.PodStatus{PodIP: "10.0.0.1", Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
		owned(&p)
		if mutate != nil {
			mutate(&p)
		}
		return p
	}
	deleted := metav1.Now()
	pods := []corev1.Pod{
		pod("z-ready", resources.PoolSpecialized, nil),
		pod("a-starting", resources.PoolSpecialized, func(p *corev1.Pod) { p.Status.Conditions = nil; p.Status.PodIP = "" }),
		pod("deployment-pod", "", nil),
		pod("idle", resources.PoolIdle, nil),
		pod("terminating", resources.PoolSpecialized, func(p *corev1.Pod) { p.DeletionTimestamp = &deleted }),
		pod("failed", resources.PoolSpecialized, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		pod("succeeded", resources.PoolSpecialized, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		pod("not-fs", resources.PoolSpecialized, func(p *corev1.Pod) { p.OwnerReferences[0].UID = "uid-other" }),
		pod("no-owner", resources.PoolSpecialized, func(p *corev1.Pod) { p.OwnerReferences = nil }),
		pod("huge-hash", resources.PoolSpecialized, func(p *corev1.Pod) {
			p.Annotations[resources.SpecHashAnnotation] = strings.Repeat("x", 129)
		}),
	}
	got := poolPodsOf(fn, pods)
	want := []faasv1.PoolPod{
		{Name: "a-starting", SpecHash: "h-a-starting"},
		{Name: "z-ready", PodIP: "10.0.0.1", Ready: true, SpecHash: "h-z-ready"},
	}
	if len(got) != len(want) {
		t.Fatalf("listed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pod %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if poolPodsOf(fn, nil) != nil {
		t.Error("no pool pods must list as null, so a status patch clears the list")
	}
}
