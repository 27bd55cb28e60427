package kube

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
)

// RESTConfig loads the kubeconfig at path or, when path is empty, finds
// one the way kubectl does: $KUBECONFIG, in-cluster, ~/.kube/config.
func RESTConfig(path string) (*rest.Config, error) {
	if path == "" {
		c, err := ctrl.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return c, nil
}
