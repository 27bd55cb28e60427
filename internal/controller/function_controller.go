package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// FieldOwner is the server-side apply field manager of everything the
// operator writes.
const FieldOwner = "faas-operator"

// DefaultLoadFailureHold is LoadFailureHold's default.
const DefaultLoadFailureHold = 5 * time.Minute

// FunctionReconciler reconciles Functions into their ConfigMap, Deployment
// and Service.
type FunctionReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Images is the runner image of each runtime.
	Images resources.RunnerImages
	// Network says what the Function's NetworkPolicy needs of the cluster;
	// required.
	Network *NetworkIsolation
	// LoadFailureHold is how long a load failure of the current code is
	// kept at zero, answering callers at once, before the next call tries
	// again; DefaultLoadFailureHold when zero.
	LoadFailureHold time.Duration
	// Packages builds Functions' packages; without it a Function with a
	// package is reported as not buildable.
	Packages *Packages
}

// +kubebuilder:rbac:groups=faas.example.com,resources=functions,verbs=get;list;watch
// +kubebuilder:rbac:groups=faas.example.com,resources=functions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=faas.example.com,resources=functions/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=faas-system,resources=leases,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one Function's objects to what its spec asks for and
// records what its pods do in its status.
func (r *FunctionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var fn faasv1.Function
	if err := r.Get(ctx, req.NamespacedName, &fn); err != nil {
		// Deleted: owner references let the garbage collector remove the rest.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !fn.DeletionTimestamp.IsZero() {
		after, err := r.finalizePackages(ctx, &fn)
		return ctrl.Result{RequeueAfter: after}, err
	}
	original := fn.DeepCopy()
	buildAgain, perr := r.reconcilePackage(ctx, &fn)
	if perr != nil {
		log.FromContext(ctx).Error(perr, "Failed to build the function's package", "function", fn.Name)
	}

	pods, err := r.functionPods(ctx, &fn)
	if err != nil {
		return ctrl.Result{}, err
	}
	dep, err := r.reconcileChildren(ctx, &fn)
	if err != nil {
		r.Recorder.Eventf(&fn, nil, corev1.EventTypeWarning, faasv1.ReasonReconcileFailed, "Reconcile", err.Error())
		setFailed(&fn, err)
		// The gateway still learns which pool pods serve, and ended ones
		// still go.
		fn.Status.PoolPods = poolPodsOf(&fn, pods)
		if serr := r.patchStatus(ctx, original, &fn); serr != nil {
			log.FromContext(ctx).Error(serr, "Failed to record the reconcile failure in status")
		}
		return ctrl.Result{}, errors.Join(err, perr, r.deleteEndedPoolPods(ctx, &fn, pods))
	}

	hold := r.LoadFailureHold
	if hold <= 0 {
		hold = DefaultLoadFailureHold
	}
	keptFor := setObservedStatus(&fn, dep, pods, time.Now(), hold)
	setUnbuilt(&fn)
	// After the status has read their exit messages: a pool pod never
	// restarts, so one whose runner ended is deleted.
	if err := errors.Join(r.patchStatus(ctx, original, &fn), r.deleteEndedPoolPods(ctx, &fn, pods)); err != nil {
		return ctrl.Result{}, err
	}
	if perr != nil {
		return ctrl.Result{}, perr
	}
	return ctrl.Result{RequeueAfter: minPositive(keptFor, buildAgain)}, nil
}

// minPositive is the shorter of two requeue intervals, 0 meaning none.
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// deleteEndedPoolPods deletes fn's specialized pool pods whose runner
// ended.
func (r *FunctionReconciler) deleteEndedPoolPods(ctx context.Context, fn *faasv1.Function, pods []corev1.Pod) error {
	for i := range pods {
		p := &pods[i]
		if p.Labels[resources.PoolStateLabel] != resources.PoolSpecialized || !p.DeletionTimestamp.IsZero() || !podEnded(p) ||
			!controlledBy(p, fn) {
			continue
		}
		if err := client.IgnoreNotFound(r.Delete(ctx, p)); err != nil {
			return fmt.Errorf("delete ended pool pod %s: %w", p.Name, err)
		}
		log.FromContext(ctx).Info("Deleted an ended pool pod", "pod", p.Name)
	}
	return nil
}

// reconcileChildren applies the NetworkPolicy, ConfigMap, Service and
// Deployment and returns the Deployment as the API server now has it. The
// NetworkPolicy comes first, so no pod of the function runs without it.
func (r *FunctionReconciler) reconcileChildren(ctx context.Context, fn *faasv1.Function) (*appsv1.Deployment, error) {
	image := r.Images.Image(fn.Spec.Runtime)
	if image == "" {
		return nil, fmt.Errorf("no runner image is configured for runtime %q", fn.Spec.Runtime)
	}
	iso, err := r.Network.Isolation(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.apply(ctx, fn, resources.MakeNetworkPolicy(fn, iso)); err != nil {
		return nil, err
	}
	if err := r.apply(ctx, fn, resources.MakeConfigMap(fn)); err != nil {
		return nil, err
	}
	if err := r.apply(ctx, fn, resources.MakeService(fn)); err != nil {
		return nil, err
	}
	return r.reconcileDeployment(ctx, fn, image)
}

// reconcileDeployment applies the Deployment with the desired replicas and
// logs and records an event for every scale change.
func (r *FunctionReconciler) reconcileDeployment(ctx context.Context, fn *faasv1.Function, image string) (*appsv1.Deployment, error) {
	desired := resources.DesiredReplicas(fn)
	var current appsv1.Deployment
	key := client.ObjectKey{Namespace: fn.Namespace, Name: resources.DeploymentName(fn)}
	from := int32(-1)
	switch err := r.Get(ctx, key, &current); {
	case err == nil && current.Spec.Replicas != nil:
		from = *current.Spec.Replicas
	case err != nil && !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get Deployment %s: %w", key, err)
	}

	dep := resources.MakeDeployment(fn, image, desired)
	if err := r.apply(ctx, fn, dep); err != nil {
		return nil, err
	}
	switch {
	case from < 0:
		log.FromContext(ctx).Info("Created function deployment", "function", fn.Name, "deployment", key.Name, "replicas", desired)
	case from != desired:
		log.FromContext(ctx).Info("Scaled function", "function", fn.Name, "from", from, "to", desired)
		r.Recorder.Eventf(fn, dep, corev1.EventTypeNormal, "Scaled", "Scale",
			"Scaled function %s from %d to %d", fn.Name, from, desired)
	}
	if err := r.Get(ctx, key, &current); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get Deployment %s: %w", key, err)
	}
	return &current, nil
}

// functionPods lists the pods labelled as the Function's.
func (r *FunctionReconciler) functionPods(ctx context.Context, fn *faasv1.Function) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(fn.Namespace), client.MatchingLabels(resources.SelectorLabels(fn))); err != nil {
		return nil, fmt.Errorf("list pods of function %s: %w", fn.Name, err)
	}
	return pods.Items, nil
}

// patchStatus writes the status when it changed since original. The whole
// status is sent, zero counts included, so `kubectl get fn` shows 0 rather
// than nothing; the operator is the status' only writer.
func (r *FunctionReconciler) patchStatus(ctx context.Context, original, fn *faasv1.Function) error {
	if equality.Semantic.DeepEqual(original.Status, fn.Status) {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"status": fn.Status})
	if err != nil {
		return fmt.Errorf("encode status of function %s: %w", fn.Name, err)
	}
	if err := r.Status().Patch(ctx, fn, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("patch status of function %s: %w", fn.Name, err)
	}
	return nil
}

// SetupWithManager registers the reconciler: it watches Functions, the
// objects they own, their pods (whose failures reach the status) and the
// API server's addresses (which every NetworkPolicy blocks).
func (r *FunctionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Network == nil {
		return errors.New("the Function reconciler needs a NetworkIsolation")
	}
	// The operator's own writes come back as events of the objects it owns;
	// each reconcile they start costs four no-op applies. At 1,000 new
	// Functions that doubled the time to Ready (test/e2e/
	// bench_operator_test.go). So the create of an owned object (the
	// operator made it; at start, the Function's own event covers it) and
	// the Deployment controller's bookkeeping (observedGeneration,
	// conditions, the revision annotation) start none; deletes, edits and
	// changed pod counts do.
	ownedChanged := builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})
	deploymentChanged := builder.WithPredicates(predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okOld := e.ObjectOld.(*appsv1.Deployment)
			n, okNew := e.ObjectNew.(*appsv1.Deployment)
			return !okOld || !okNew || o.Generation != n.Generation || !n.DeletionTimestamp.IsZero() ||
				o.Status.Replicas != n.Status.Replicas || o.Status.ReadyReplicas != n.Status.ReadyReplicas ||
				!equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences)
		},
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&faasv1.Function{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// The reconciler reads only Deployments (and pods) back: the cache
		// keeps the metadata of the other objects, enough for their events,
		// not their code, ports or policy rules.
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata, ownedChanged).
		Owns(&corev1.Service{}, builder.OnlyMetadata, ownedChanged).
		Owns(&appsv1.Deployment{}, deploymentChanged).
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata, ownedChanged).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToFunction))
	for _, src := range r.Network.sources(r.allFunctions) {
		b = b.WatchesRawSource(src)
	}
	return b.Named("function").Complete(r)
}

// allFunctions maps any object to every Function.
func (r *FunctionReconciler) allFunctions(ctx context.Context, _ client.Object) []reconcile.Request {
	var fns faasv1.FunctionList
	if err := r.List(ctx, &fns); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list Functions to rebuild their NetworkPolicies")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(fns.Items))
	for _, fn := range fns.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&fn)})
	}
	return reqs
}

// podToFunction maps a function pod to its Function by its label.
func podToFunction(_ context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[resources.FunctionLabel]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}
