# faas-registry: the CNCF Distribution registry (github.com/distribution/distribution/v3),
# a static binary built on the host by hack/images.sh from the wrapper module
# hack/cluster/registry, which pins it and raises its vulnerable dependencies.
# Its config is mounted at /etc/distribution/config.yml (config/registry).
ARG BASE=scratch
FROM ${BASE}
COPY bin/linux/registry /registry
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/registry"]
CMD ["serve", "/etc/distribution/config.yml"]
