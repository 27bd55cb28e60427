// Package kubeconn connects the CLI to a cluster the way kubectl does:
// --kubeconfig, --context and -n/--namespace over $KUBECONFIG and
// ~/.kube/config (client-go's clientcmd loading rules), or in-cluster.
//
// It builds clients and knows nothing of Functions beyond registering
// their type in its own scheme; it must not know about commands or output.
package kubeconn
