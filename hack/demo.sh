#!/usr/bin/env bash
# The whole demo on this machine: the local cluster, the images built from
# their Dockerfiles, the CRD, the operator and the gateway, the hello
# Function at zero, then `curl /invoke/hello` through
# `kubectl port-forward svc/faas-gateway 8000:8000 -n faas-system`, cold and warm.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Local Kubernetes (built from source once, ~5 min; then seconds)"
hack/local-cluster.sh up
export KUBECONFIG
KUBECONFIG=$(hack/local-cluster.sh kubeconfig)
PATH="$(hack/local-cluster.sh bin):$PATH"

say "Images from the project's Dockerfiles, loaded into the node"
hack/images.sh load faas-gateway faas-operator faas-python-runner

say "CRD, operator and gateway"
kubectl apply --server-side --force-conflicts -k config/crd
kubectl wait --for=condition=Established crd/functions.faas.example.com --timeout=30s >/dev/null
kubectl apply --server-side --force-conflicts -k config/operator
kubectl apply --server-side --force-conflicts -k config/gateway
kubectl rollout status deployment/faas-operator -n faas-system --timeout=120s
kubectl rollout status deployment/faas-gateway -n faas-system --timeout=120s

say "A pool of two warm, generic Python runner pods in this namespace"
kubectl apply -f config/samples/runtimepool-python.yaml
kubectl wait --for=jsonpath='{.status.readyPods}'=2 runtimepool/python --timeout=120s >/dev/null
kubectl get runtimepools

say "The hello Function, at zero replicas"
kubectl delete function hello --ignore-not-found --wait >/dev/null
kubectl apply -f config/samples/function-hello.yaml
kubectl wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=ScaledToZero function/hello --timeout=60s >/dev/null
kubectl get function hello
echo "pods of hello: $(kubectl get pods -l faas.example.com/function=hello -o name | wc -l)"

say "kubectl port-forward svc/faas-gateway 8000:8000 -n faas-system"
kubectl port-forward svc/faas-gateway 8000:8000 -n faas-system >/tmp/faas-demo-port-forward.log 2>&1 &
pf=$!
trap 'kill $pf 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs localhost:8000/healthz >/dev/null 2>&1 && break; sleep 0.1; done

say "curl http://localhost:8000/invoke/hello   (cold: hello has no pod; the gateway specializes a pool pod)"
curl -s -w '\n  HTTP %{http_code}, cold call answered in %{time_total}s\n' http://localhost:8000/invoke/hello
say "curl http://localhost:8000/invoke/hello   (warm)"
curl -s -w '\n  HTTP %{http_code}, warm call answered in %{time_total}s\n' http://localhost:8000/invoke/hello
kubectl get function hello
kubectl get pods -l faas.example.com/function=hello -L faas.example.com/pool-state

cat <<EOT

Done. The cluster keeps running:
  export KUBECONFIG=$KUBECONFIG PATH=$(hack/local-cluster.sh bin):\$PATH
  kubectl port-forward svc/faas-gateway 8000:8000 -n faas-system &
  curl http://localhost:8000/invoke/hello
hello goes back to zero after idleTimeoutSeconds (60 s) without calls. Without a RuntimePool
(kubectl delete runtimepool python) the first call scales hello's Deployment from zero instead.
Tear everything down with: make cluster-down
EOT
