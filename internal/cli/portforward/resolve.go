package portforward

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/minifaas/minifaas/internal/kube"
)

// Errors of resolving a Service to a pod.
var (
	ErrNoService  = errors.New("no such Service")
	ErrNoReadyPod = errors.New("no ready pod behind the Service")
)

// Target is a Service port to reach.
type Target struct {
	Namespace, Service string
	Port               int32
}

// Endpoint is the pod and container port a Target resolved to.
type Endpoint struct {
	Pod  string
	Port int32
}

// Resolve picks a ready, running pod selected by the Service (the oldest,
// the least likely to be on its way out) and the container port its
// targetPort names.
func Resolve(ctx context.Context, cs kubernetes.Interface, t Target) (Endpoint, error) {
	svc, err := cs.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Endpoint{}, fmt.Errorf("%w: %s/%s", ErrNoService, t.Namespace, t.Service)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("get Service %s/%s: %w", t.Namespace, t.Service, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == t.Port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return Endpoint{}, fmt.Errorf("Service %s/%s has no port %d", t.Namespace, t.Service, t.Port)
	}
	if len(svc.Spec.Selector) == 0 {
		return Endpoint{}, fmt.Errorf("Service %s/%s has no selector to find its pods by", t.Namespace, t.Service)
	}
	pods, err := cs.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("list pods of Service %s/%s: %w", t.Namespace, t.Service, err)
	}
	pod := pickPod(pods.Items)
	if pod == nil {
		return Endpoint{}, fmt.Errorf("%w %s/%s (%d pods)", ErrNoReadyPod, t.Namespace, t.Service, len(pods.Items))
	}
	port, err := containerPort(pod, sp)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Pod: pod.Name, Port: port}, nil
}

func pickPod(pods []corev1.Pod) *corev1.Pod {
	var ready []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && kube.PodReady(p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	sort.Slice(ready, func(i, j int) bool {
		a, b := ready[i].CreationTimestamp, ready[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return ready[i].Name < ready[j].Name
	})
	return ready[0]
}

// containerPort translates a Service port's targetPort (a number, a name,
// or unset meaning the port itself) to the pod's container port.
func containerPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	if sp.TargetPort.IntValue() > 0 {
		return int32(sp.TargetPort.IntValue()), nil
	}
	name := sp.TargetPort.StrVal
	if name == "" {
		return sp.Port, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no container port named %q", pod.Namespace, pod.Name, name)
}
