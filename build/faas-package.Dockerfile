# faas-package: the node-local package fetcher (config/fetcher) and the
# fetch and push steps of package build Jobs. A static binary
# (CGO_ENABLED=0) built on the host by hack/images.sh or `make images` into
# bin/linux/, so the same Dockerfile works with any Docker and needs no Go
# build image.
ARG BASE=scratch
FROM ${BASE}
COPY bin/linux/faas-package /faas-package
USER 65532:65532
ENTRYPOINT ["/faas-package"]
