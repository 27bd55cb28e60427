package portforward

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

func gatewayPod(name string, age time.Duration, ready bool, mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sys", Name: name, Labels: map[string]string{"app": "gw"},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age))},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "gw", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func service(target intstr.IntOrString) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "sys", Name: "gw"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "gw"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8000, TargetPort: target}}},
	}
}

func TestResolve(t *testing.T) {
	deleting := func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now; p.Finalizers = []string{"x"} }
	target := Target{Namespace: "sys", Service: "gw", Port: 8000}
	for _, tc := range []struct {
		name    string
		objs    []*corev1.Pod
		svc     *corev1.Service
		want    Endpoint
		wantErr error
	}{
		{"oldest ready pod, named port", []*corev1.Pod{
			gatewayPod("young", time.Minute, true), gatewayPod("old", time.Hour, true),
			gatewayPod("oldest-not-ready", 2*time.Hour, false), gatewayPod("oldest-deleting", 3*time.Hour, true, deleting),
		}, service(intstr.FromString("http")), Endpoint{Pod: "old", Port: 8080}, nil},
		{"numeric target port", []*corev1.Pod{gatewayPod("a", time.Minute, true)}, service(intstr.FromInt32(9000)), Endpoint{Pod: "a", Port: 9000}, nil},
		{"no target port is the port", []*corev1.Pod{gatewayPod("a", time.Minute, true)}, service(intstr.IntOrString{}), Endpoint{Pod: "a", Port: 8000}, nil},
		{"no ready pod", []*corev1.Pod{gatewayPod("a", time.Minute, false)}, service(intstr.FromString("http")), Endpoint{}, ErrNoReadyPod},
		{"no service", nil, nil, Endpoint{}, ErrNoService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			ctx := context.Background()
			for _, p := range tc.objs {
				if _, err := cs.CoreV1().Pods("sys").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.svc != nil {
				if _, err := cs.CoreV1().Services("sys").Create(ctx, tc.svc, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Resolve(ctx, cs, target)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("Resolve = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
