# minifaas: a lightweight, Kubernetes-native FaaS for small and edge clusters.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

CONTROLLER_GEN_VERSION ?= v0.23.0
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
CLUSTER := hack/local-cluster.sh
KUBECONFIG_LOCAL := $(shell $(CLUSTER) kubeconfig)

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests from the kubebuilder markers.
	$(CONTROLLER_GEN) crd paths="./api/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=faas-operator paths="./internal/controller/..." output:rbac:artifacts:config=config/rbac/operator
	$(CONTROLLER_GEN) rbac:roleName=faas-gateway paths="./internal/gateway/..." output:rbac:artifacts:config=config/rbac/gateway
	$(CONTROLLER_GEN) rbac:roleName=faas-fetcher paths="./internal/fetcher/..." output:rbac:artifacts:config=config/rbac/fetcher

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files are not up to date.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make manifests generate'"; exit 1; }

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...
	go vet -tags e2e ./test/...

.PHONY: build
build: ## Build the operator and gateway binaries into bin/.
	go build -o $(LOCALBIN)/ ./cmd/...

.PHONY: build-linux
build-linux: ## Build static linux binaries into bin/linux/, the Go images' build context.
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o $(LOCALBIN)/linux/ ./cmd/gateway ./cmd/operator

##@ Demo

.PHONY: demo
demo: ## Run the whole demo: local cluster, images, CRD, operator, gateway, hello from zero.
	hack/demo.sh

##@ Test

.PHONY: test
test: verify-generated vet test-unit test-python test-node test-e2e ## Run every test: unit, envtest, Python and Node.js runners, e2e on the local cluster.

.PHONY: test-unit
test-unit: ## Unit and envtest (real kube-apiserver + etcd) tests, with -race.
	KUBEBUILDER_ASSETS="$$($(CLUSTER) envtest)" go test -race -count=1 ./api/... ./internal/... ./cmd/...

.PHONY: test-python
test-python: ## The Python runner's unittest suite.
	cd runtimes/python && python3 -m unittest discover -s tests -t . -v 2>&1 | tail -n 40

.PHONY: test-node
test-node: ## The Node.js runner's node:test suite (no npm dependencies).
	cd runtimes/nodejs && node --test 2>&1 | tail -n 40

.PHONY: test-e2e
test-e2e: cluster-up images-load ## End-to-end tests on the real local cluster.
	KUBECONFIG=$(KUBECONFIG_LOCAL) PATH="$$($(CLUSTER) bin):$$PATH" go test -tags e2e -count=1 -timeout 40m -v ./test/e2e/... 2>&1 | tee /tmp/minifaas-e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go'

.PHONY: bench
bench: cluster-up images-load ## Benchmarks on the local cluster: warm calls, cold starts, burst (ratios vs baselines).
	command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light; }
	go test -run '^$$' -bench 'Call$$' -benchtime 5000x ./internal/gateway
	KUBECONFIG=$(KUBECONFIG_LOCAL) PATH="$$($(CLUSTER) bin):$$PATH" go test -tags 'e2e bench' -count=1 -timeout 45m -v -run 'TestBench' ./test/e2e/... 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)' | tee /tmp/minifaas-bench.log
	@echo; echo "Performance goals (this run)"; grep -o 'GOAL|.*' /tmp/minifaas-bench.log | cut -d'|' -f2- | column -t -s'|' -N 'MEASURE,FIGURE,GOAL,RESULT' || true

##@ Local cluster and images

.PHONY: cluster-up
cluster-up: ## Start the local single-node Kubernetes (builds it once, ~4 min cold).
	$(CLUSTER) up

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove everything it left on the host.
	$(CLUSTER) down

.PHONY: images
images: ## Build the images from their Dockerfiles with a private Docker daemon.
	hack/images.sh build

.PHONY: images-load
images-load: ## Build the images and load them into the local cluster.
	hack/images.sh load

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
