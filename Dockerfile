# One image carries both binaries: the webhook, and envexec for the injected init container.
# Build: docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) -t vault-injector .
# This is the published build. `make image` builds the same image without a Docker engine
# (hack/image); internal/image's tests fail when the two differ in layout or build flags.
ARG GO_VERSION=1.26.8
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ENV CGO_ENABLED=0
RUN go build -trimpath -buildvcs=false -ldflags="-s -w -buildid= -X github.com/vault-injector/vault-injector/internal/buildinfo.version=${VERSION} -X github.com/vault-injector/vault-injector/internal/buildinfo.commit=${COMMIT}" -o /out/vault-injector ./cmd/vault-injector \
 && go build -trimpath -buildvcs=false -ldflags="-s -w -buildid= -X github.com/vault-injector/vault-injector/internal/buildinfo.version=${VERSION} -X github.com/vault-injector/vault-injector/internal/buildinfo.commit=${COMMIT}" -o /out/envexec ./cmd/envexec

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="vault-injector" \
      org.opencontainers.image.description="Kubernetes admission webhook that injects Vault secrets into pods" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/vault-injector /out/envexec /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/vault-injector"]
