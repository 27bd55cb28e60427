package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
)

func idlePoolPods(t *testing.T, pool *faasv1.RuntimePool) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(pool.Namespace), client.MatchingLabels{
		resources.PoolLabel: pool.Name, resources.PoolStateLabel: resources.PoolIdle,
	}); err != nil {
		t.Fatal(err)
	}
	var alive []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp.IsZero() {
			alive = append(alive, p)
		}
	}
	return alive
}

func waitIdlePods(t *testing.T, pool *faasv1.RuntimePool, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, fmt.Sprintf("%d idle pool pods", n), func() error {
		pods = idlePoolPods(t, pool)
		if len(pods) != n {
			return fmt.Errorf("%d idle pool pods", len(pods))
		}
		return nil
	})
	return pods
}

func TestPoolKeepsItsSizeAndReplacesClaimedPods(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p-" + hex.EncodeToString(b)}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	pool := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: ns.Name},
		Spec: faasv1.RuntimePoolSpec{Size: ptr.To[int32](2)}}
	if err := k8s.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	pods := waitIdlePods(t, pool, 2)

	var secret corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: pooltoken.SecretName}, &secret); err != nil {
		t.Fatalf("pool key Secret: %v", err)
	}
	key := secret.Data[pooltoken.SecretKey]
	for _, p := range pods {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "RuntimePool" {
			t.Errorf("pod %s is not owned by its pool", p.Name)
		}
		var hash string
		for _, e := range p.Spec.Containers[0].Env {
			if e.Name == "FAAS_SPECIALIZE_TOKEN_SHA256" {
				hash = e.Value
			}
		}
		if hash != pooltoken.Hash(pooltoken.Token(key, p.Namespace, p.Name)) {
			t.Errorf("pod %s has a token hash the gateway cannot match", p.Name)
		}
	}

	// The gateway claims one: it leaves the pool, which makes a new one.
	claimed := pods[0]
	patch := client.MergeFrom(claimed.DeepCopy())
	claimed.Labels[resources.PoolStateLabel] = resources.PoolSpecialized
	claimed.Labels[resources.FunctionLabel] = "hello"
	if err := k8s.Patch(ctx, &claimed, patch); err != nil {
		t.Fatal(err)
	}
	after := waitIdlePods(t, pool, 2)
	for _, p := range after {
		if p.Name == claimed.Name {
			t.Error("a claimed pod went back to the pool")
		}
	}
	// The status lists the idle pods, for the gateway, which reads no pods.
	eventually(t, "idle pods in status", func() error {
		var cur faasv1.RuntimePool
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pool), &cur); err != nil {
			return err
		}
		var got, want []string
		for _, p := range cur.Status.IdlePods {
			got = append(got, p.Name)
		}
		for _, p := range after {
			want = append(want, p.Name)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("status lists %v, want %v", got, want)
		}
		return nil
	})

	// Resized to zero, the pool deletes its idle pods, not claimed ones.
	patch = client.MergeFrom(pool.DeepCopy())
	pool.Spec.Size = ptr.To[int32](0)
	if err := k8s.Patch(ctx, pool, patch); err != nil {
		t.Fatal(err)
	}
	waitIdlePods(t, pool, 0)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(&claimed), &claimed); err != nil {
		t.Errorf("the claimed pod was deleted with the pool's idle pods: %v", err)
	}
	eventually(t, "status", func() error {
		var cur faasv1.RuntimePool
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pool), &cur); err != nil {
			return err
		}
		if cur.Status.Pods != 0 || len(cur.Status.IdlePods) != 0 || cur.Status.ObservedGeneration != cur.Generation {
			return fmt.Errorf("status %+v", cur.Status)
		}
		return nil
	})
}
