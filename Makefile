# vault-injector: run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The commit `version` prints and the provenance names (-buildvcs=false: a copy without .git
# builds the same bytes when given the same COMMIT).
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BIN := bin
# `make image`: the image's platform is linux/$(GOARCH); every timestamp in it is
# SOURCE_DATE_EPOCH, by default the commit's time, so a rebuild has the same digest.
# (`docker build .` with the Dockerfile stays the published build.)
GOARCH ?= amd64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
# The image's CA bundle: the build host's (Debian's ca-certificates). To rebuild a published
# image, pass the bundle extracted from it (README: Check a published image).
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
TOOLS := hack/tools/build.sh
# `make build` is reproducible: the same commit gives the same bytes in any folder, at any time,
# for any user (hack/image/reproducible_test.go). No paths (-trimpath), no VCS stamp (the commit
# is set with -X), an empty build ID, fixed CPU levels, and none of the caller's GOFLAGS,
# GOEXPERIMENT or `go env -w` settings (GOENV=off).
GO_ENV := env GOENV=off GOFLAGS= GOEXPERIMENT= GOAMD64=v1 GOARM64=v8.0 CGO_ENABLED=0
GO_BUILD := $(GO_ENV) go build -trimpath -buildvcs=false \
  -ldflags="-s -w -buildid= -X github.com/vault-injector/vault-injector/internal/buildinfo.version=$(VERSION) -X github.com/vault-injector/vault-injector/internal/buildinfo.commit=$(COMMIT)"
# The real test components (kube-apiserver, etcd, vault, helm, the node's binaries), built once into a cache outside the repo.
TEST_ENV = KUBEBUILDER_ASSETS="$$($(TOOLS))" VAULT_BIN="$$($(TOOLS) vault)" HELM_BIN="$$($(TOOLS) helm)" NODE_BIN_DIR="$$($(TOOLS) node)"

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## run the product on an embedded control plane and Vault (ARGS=--keep to keep it up)
	@$(TEST_ENV) go run ./hack/demo $(ARGS)

.PHONY: test
test: verify unit e2e ## run every check and test (what CI runs)

.PHONY: unit
unit: tools ## unit and integration tests (real Vault where needed)
	$(TEST_ENV) go test -count=1 ./...

.PHONY: e2e
e2e: tools ## end-to-end specs on a real node (kubelet + containerd), real apiserver and Vault; then `make run ARGS=--keep`'s printed commands
	$(TEST_ENV) go test -count=1 -tags e2e -timeout 30m ./e2e/...
	$(TEST_ENV) go test -count=1 -tags e2e -timeout 15m -run TestKeepPrintsCommandsThatWork ./hack/demo/

.PHONY: race
race: tools ## unit tests with the race detector
	$(TEST_ENV) CGO_ENABLED=1 go test -count=1 -race ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 30s); new findings land in testdata/fuzz/
	@for t in vaultref:FuzzScan vaultref:FuzzParsePathList config:FuzzParsePod injector:FuzzInject injector:FuzzInjectPod webhook:FuzzHandle webhook:FuzzDecodeMatchesKubernetes webhook:FuzzReviewIsJSONv2 internal/podjson:FuzzDecodeMatchesJSONv2; do \
	  pkg=$${t%%:*}; fn=$${t#*:}; echo "== $$pkg $$fn"; \
	  go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $${FUZZTIME:-30s} ./$$pkg || exit 1; done

.PHONY: bench
bench: tools ## benchmarks: Go + benchstat, HTTPS load vs a floor server, profile -> bench/RESULTS.md, bench/results.json (BENCH_ARGS to tune)
	$(TEST_ENV) go run ./bench/cmd/bench -benchstat "$$($(TOOLS) benchstat)" $(BENCH_ARGS)

.PHONY: soak
soak: tools ## soak: 10 min of pod creations through the real apiserver, two replicas (one killed every minute), certificate rotated under load (SOAK_ARGS to tune)
	$(TEST_ENV) go run ./hack/soak $(SOAK_ARGS)

.PHONY: build
build: ## build both binaries, static and stripped, into bin/
	$(GO_BUILD) -o $(BIN)/vault-injector ./cmd/vault-injector
	$(GO_BUILD) -o $(BIN)/envexec ./cmd/envexec

.PHONY: image
image: ## build the image without Docker into bin/image (OCI layout), print its digest; IMAGE=host:port/name:tag pushes (INSECURE=1: plain HTTP), GOARCH=arm64
	$(MAKE) build BIN=$(BIN)/linux_$(GOARCH) GOOS=linux GOARCH=$(GOARCH)
	$(GO_ENV) GOOS= GOARCH= go run ./hack/image -bin-dir $(BIN)/linux_$(GOARCH) -arch $(GOARCH) \
	  -version $(VERSION) -source-date-epoch $(SOURCE_DATE_EPOCH) -ca-certs $(CA_CERTS) -oci-layout $(BIN)/image \
	  $(if $(IMAGE),-push $(IMAGE)) $(if $(filter 1 true yes,$(INSECURE)),-insecure)

DIST ?= dist
.PHONY: release
release: ## publish a release into $(DIST)/ and REGISTRY=host[:port]/path: VERSION=vX.Y.Z COSIGN_KEY=cosign.key (password in COSIGN_PASSWORD) or KEYLESS=1 in CI, INSECURE=1 for plain HTTP (docs/release.md)
	@test -n "$(REGISTRY)" -a -n "$(strip $(DIST))" || { echo "make release needs REGISTRY=host[:port]/path and a DIST folder (docs/release.md)"; exit 2; }
	rm -rf "$(strip $(DIST))/bin"
	$(MAKE) build BIN=$(DIST)/bin/linux_$(GOARCH) GOOS=linux GOARCH=$(GOARCH)
	$(GO_ENV) GOOS= GOARCH= go run ./hack/release -version $(VERSION) -commit $(COMMIT) -source-date-epoch $(SOURCE_DATE_EPOCH) \
	  -registry $(REGISTRY) -arch $(GOARCH) -dist $(DIST) -ca-certs $(CA_CERTS) $(if $(COSIGN_KEY),-key $(COSIGN_KEY)) \
	  -command "make release VERSION=$(VERSION) REGISTRY=$(REGISTRY)" \
	  -cosign "$$($(TOOLS) cosign)" -cyclonedx-gomod "$$($(TOOLS) cyclonedx-gomod)" -helm "$$($(TOOLS) helm)" \
	  $(if $(filter 1 true yes,$(INSECURE)),-insecure) $(if $(filter 1 true yes,$(KEYLESS)),-keyless)

.PHONY: size
size: build ## report the size of envexec (what every injected pod carries)
	@ls -l $(BIN)/envexec $(BIN)/vault-injector | awk '{printf "%s: %d bytes (%.2f MiB)\n", $$9, $$5, $$5/1048576}'

.PHONY: tools
tools: ## build the real test components into the cache and install the node's Debian packages (a cold make test takes about 50 minutes on 2 cores, most of it here)
	@$(TOOLS) all
	@$(TOOLS) >/dev/null
	@$(TOOLS) node >/dev/null
	@hack/tools/node-packages.sh

.PHONY: lint
lint: ## golangci-lint
	"$$($(TOOLS) golangci-lint)" run ./...
	"$$($(TOOLS) golangci-lint)" run --build-tags e2e ./e2e/...

.PHONY: lint-fix
lint-fix: ## golangci-lint with --fix
	"$$($(TOOLS) golangci-lint)" run --fix ./...

.PHONY: verify
verify: ## gofmt, go vet, go mod tidy, goldens and generated docs are clean; lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...
	go vet -tags e2e ./e2e/...
	go mod tidy -diff
	$(MAKE) update
	@test -z "$$(git status --porcelain -- docs injector/testdata config/testdata cmd/vault-injector/testdata charts)" || \
	  { git status --short -- docs injector/testdata config/testdata cmd/vault-injector/testdata charts; \
	    echo "goldens, docs or the chart README are out of date (or new and untracked): run make update and review"; exit 1; }
	$(MAKE) lint

.PHONY: update
update: tools ## rewrite goldens, generated docs and the chart README
	$(TEST_ENV) go test -count=1 ./injector ./config ./cmd/vault-injector ./charts/vault-injector -update >/dev/null

.PHONY: chart-lint
chart-lint: tools ## helm lint the chart
	"$$($(TOOLS) helm)" lint --strict charts/vault-injector

.PHONY: clean
clean: ## remove build output (the tool cache stays)
	rm -rf $(BIN)
