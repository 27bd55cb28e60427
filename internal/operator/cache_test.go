package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/controller"
	"github.com/minifaas/minifaas/internal/resources"
)

// eventually retries f until it returns nil, for 15 s.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	d := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(d) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTheProductionCacheStillRestoresEditedChildren runs the Function
// reconciler with the operator's own cache options (label-selected,
// trimmed, metadata-only owned objects) and its event filters against a real
// API server: edits and deletes of what it owns are still undone, including
// an edit that drops the label the cache selects on.
func TestTheProductionCacheStillRestoresEditedChildren(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test-unit")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	co := cacheOptions("")
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: co, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	network, err := controller.NewNetworkIsolation(cfg, scheme, "faas-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(network); err != nil {
		t.Fatal(err)
	}
	r := &controller.FunctionReconciler{Client: mgr.GetClient(), Scheme: scheme, Recorder: mgr.GetEventRecorder(controller.FieldOwner),
		Images: resources.RunnerImages{faasv1.RuntimePython: "img"}, Network: network}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p1"}}); err != nil {
		t.Fatal(err)
	}
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "p1"},
		Spec: faasv1.FunctionSpec{Code: "def handle(req):\n    return 'x'\n", MaxReplicas: 3}}
	if err := k8s.Create(ctx, fn); err != nil {
		t.Fatal(err)
	}
	cmKey := client.ObjectKey{Namespace: "p1", Name: resources.ConfigMapName(fn)}
	npKey := client.ObjectKey{Namespace: "p1", Name: resources.NetworkPolicyName(fn)}
	var cm corev1.ConfigMap
	eventually(t, "cm", func() error { return k8s.Get(ctx, cmKey, &cm) })
	orig := fmt.Sprint(cm.Data)

	// The code is edited.
	for k := range cm.Data {
		cm.Data[k] = "import os; os.system('evil')"
	}
	if err := k8s.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cm data restored", func() error {
		var c corev1.ConfigMap
		if err := k8s.Get(ctx, cmKey, &c); err != nil {
			return err
		}
		if fmt.Sprint(c.Data) != orig {
			return fmt.Errorf("data %v", c.Data)
		}
		return nil
	})
	t.Log("ConfigMap data edit restored")

	// The label the cache selects on is removed, and the code edited: the
	// object leaves the cache, which the reconciler sees as a delete.
	if err := k8s.Get(ctx, cmKey, &cm); err != nil {
		t.Fatal(err)
	}
	delete(cm.Labels, resources.ManagedByLabel)
	for k := range cm.Data {
		cm.Data[k] = "evil2"
	}
	if err := k8s.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cm relabelled + restored", func() error {
		var c corev1.ConfigMap
		if err := k8s.Get(ctx, cmKey, &c); err != nil {
			return err
		}
		if fmt.Sprint(c.Data) != orig || c.Labels[resources.ManagedByLabel] == "" {
			return fmt.Errorf("data %v labels %v", c.Data, c.Labels)
		}
		return nil
	})
	t.Log("ConfigMap unlabel+edit restored")

	// The NetworkPolicy is opened to all egress.
	var np networkingv1.NetworkPolicy
	eventually(t, "np", func() error { return k8s.Get(ctx, npKey, &np) })
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
	if err := k8s.Update(ctx, &np); err != nil {
		t.Fatal(err)
	}
	eventually(t, "np restored", func() error {
		var n networkingv1.NetworkPolicy
		if err := k8s.Get(ctx, npKey, &n); err != nil {
			return err
		}
		for _, e := range n.Spec.Egress {
			if len(e.To) == 0 && len(e.Ports) == 0 {
				return fmt.Errorf("allow-all egress kept: %+v", n.Spec.Egress)
			}
		}
		return nil
	})
	t.Log("NetworkPolicy edit restored")

	// The NetworkPolicy is deleted.
	if err := k8s.Get(ctx, npKey, &np); err != nil {
		t.Fatal(err)
	}
	uid := np.UID
	if err := k8s.Delete(ctx, &np); err != nil {
		t.Fatal(err)
	}
	eventually(t, "np recreated", func() error {
		var n networkingv1.NetworkPolicy
		if err := k8s.Get(ctx, npKey, &n); err != nil {
			return err
		}
		if n.UID == uid {
			return fmt.Errorf("not recreated yet")
		}
		return nil
	})
	t.Log("NetworkPolicy delete restored")

	// The Deployment is deleted.
	var dep appsv1.Deployment
	dk := client.ObjectKey{Namespace: "p1", Name: resources.DeploymentName(fn)}
	if err := k8s.Get(ctx, dk, &dep); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, "dep recreated", func() error {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, dk, &d); err != nil {
			return err
		}
		if d.UID == dep.UID {
			return fmt.Errorf("not recreated yet")
		}
		return nil
	})
	t.Log("Deployment delete restored")
}
