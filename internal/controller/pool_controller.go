package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
)

// RuntimePoolReconciler keeps each RuntimePool's idle pods at its size.
type RuntimePoolReconciler struct {
	client.Client
	Scheme *runtime.Scheme
	Images resources.RunnerImages
	// SystemNamespace holds the pool key Secret shared with the gateway.
	SystemNamespace string
	// APIReader reads the key Secret uncached, so the operator does not
	// watch every Secret in the cluster for one.
	APIReader client.Reader
	// Network says what the pool's NetworkPolicy needs of the cluster;
	// required.
	Network *NetworkIsolation
}

// +kubebuilder:rbac:groups=faas.example.com,resources=runtimepools,verbs=get;list;watch
// +kubebuilder:rbac:groups=faas.example.com,resources=runtimepools/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=faas.example.com,resources=runtimepools/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",namespace=faas-system,resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch

// Reconcile applies the NetworkPolicy of the pool's idle pods, creates or
// deletes idle pool pods until the pool has spec.size of them, removes pool
// pods that ended, and reports the count in status.
func (r *RuntimePoolReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pool faasv1.RuntimePool
	if err := r.Get(ctx, req.NamespacedName, &pool); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !pool.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	image := r.Images.Image(pool.Spec.Runtime)
	if image == "" {
		return ctrl.Result{}, fmt.Errorf("no runner image is configured for runtime %q", pool.Spec.Runtime)
	}
	// The policy first, so no pool pod runs without it.
	iso, err := r.Network.Isolation(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := applyOwned(ctx, r.Client, r.Scheme, &pool, resources.MakePoolNetworkPolicy(&pool, iso)); err != nil {
		return ctrl.Result{}, err
	}

	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(pool.Namespace), client.MatchingLabels{
		resources.PoolLabel: pool.Name, resources.PoolStateLabel: resources.PoolIdle,
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list pods of pool %s: %w", pool.Name, err)
	}
	var alive []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		switch {
		case !p.DeletionTimestamp.IsZero():
		case podEnded(p):
			if err := r.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("delete ended pool pod %s: %w", p.Name, err)
			}
		default:
			alive = append(alive, p)
		}
	}

	switch want := int(ptr.Deref(pool.Spec.Size, 0)); {
	case len(alive) < want:
		key, err := r.poolKey(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		for n := len(alive); n < want; n++ {
			if err := r.createPod(ctx, &pool, image, key); err != nil {
				return ctrl.Result{}, err
			}
		}
	case len(alive) > want:
		// Drop pods that are not ready first.
		sort.SliceStable(alive, func(i, j int) bool { return !kube.PodReady(alive[i]) && kube.PodReady(alive[j]) })
		for _, p := range alive[:len(alive)-want] {
			if err := r.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("delete surplus pool pod %s: %w", p.Name, err)
			}
		}
		alive = alive[len(alive)-want:]
	}

	status := faasv1.RuntimePoolStatus{Pods: int32(len(alive)), ObservedGeneration: pool.Generation}
	for _, p := range alive {
		ready := kube.PodReady(p)
		if ready {
			status.ReadyPods++
		}
		status.IdlePods = append(status.IdlePods, faasv1.PoolPod{Name: p.Name, PodIP: p.Status.PodIP, Ready: ready})
	}
	sortByName(status.IdlePods)
	if equality.Semantic.DeepEqual(status, pool.Status) {
		return ctrl.Result{}, nil
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("encode status of pool %s: %w", pool.Name, err)
	}
	if err := r.Status().Patch(ctx, &pool, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return ctrl.Result{}, fmt.Errorf("patch status of pool %s: %w", pool.Name, err)
	}
	return ctrl.Result{}, nil
}

// createPod makes one idle pool pod with its own specialization token.
func (r *RuntimePoolReconciler) createPod(ctx context.Context, pool *faasv1.RuntimePool, image string, key []byte) error {
	name := "pool-" + pool.Name + "-" + randomSuffix()
	token := pooltoken.Token(key, pool.Namespace, name)
	pod := resources.MakePoolPod(pool, name, image, pooltoken.Hash(token))
	if err := controllerutil.SetControllerReference(pool, pod, r.Scheme); err != nil {
		return fmt.Errorf("set owner of pool pod %s: %w", name, err)
	}
	if err := r.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pool pod %s: %w", name, err)
	}
	log.FromContext(ctx).Info("Created pool pod", "pool", pool.Name, "pod", name)
	return nil
}

// poolKey returns the key shared with the gateway, creating it once.
func (r *RuntimePoolReconciler) poolKey(ctx context.Context) ([]byte, error) {
	key := client.ObjectKey{Namespace: r.SystemNamespace, Name: pooltoken.SecretName}
	var secret corev1.Secret
	err := r.APIReader.Get(ctx, key, &secret)
	if err == nil {
		if k := secret.Data[pooltoken.SecretKey]; len(k) > 0 {
			return k, nil
		}
		return nil, fmt.Errorf("secret %s has no %q", key, pooltoken.SecretKey)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get pool key %s: %w", key, err)
	}
	k, err := pooltoken.NewKey()
	if err != nil {
		return nil, err
	}
	secret = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{resources.ManagedByLabel: resources.ManagedBy}},
		Data: map[string][]byte{pooltoken.SecretKey: k},
	}
	if err := r.Create(ctx, &secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return r.poolKey(ctx)
		}
		return nil, fmt.Errorf("create pool key %s: %w", key, err)
	}
	return k, nil
}

// randomSuffix is five lower-case letters and digits, like generateName's.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// SetupWithManager registers the reconciler: it watches RuntimePools, the
// pods they own (a claimed pod changes owner, which also triggers it), their
// NetworkPolicies and the API server's addresses (which those block).
func (r *RuntimePoolReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Network == nil {
		return errors.New("the RuntimePool reconciler needs a NetworkIsolation")
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&faasv1.RuntimePool{}).
		Owns(&corev1.Pod{}).
		// Metadata only, as the Function controller's: one cache of them.
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata)
	for _, src := range r.Network.sources(r.allPools) {
		b = b.WatchesRawSource(src)
	}
	return b.Named("runtimepool").Complete(r)
}

// allPools maps any object to every RuntimePool.
func (r *RuntimePoolReconciler) allPools(ctx context.Context, _ client.Object) []reconcile.Request {
	var pools faasv1.RuntimePoolList
	if err := r.List(ctx, &pools); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list RuntimePools to rebuild their NetworkPolicies")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(pools.Items))
	for _, p := range pools.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}
