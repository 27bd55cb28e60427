// Package packagebuild holds what the platform's parts share to talk to the
// package registry, and the two registry steps of a package build Job:
//
//   - Credentials, LoadCredentials, NewClient, NewRepository and
//     RegistryRepository: the registry's basic-auth account (the files of
//     the Secret faas-packages) and an oras client of one repository;
//     WaitForRegistry, which a build step calls first, since a new pod's
//     network may admit it a moment after it starts;
//   - Shape, SourceShape and BuiltShape: which artifact types and layer
//     titles the source and the built artifacts may have, checked on the
//     manifest before any layer is read;
//   - FetchSource (faas-package build-fetch), PushBuilt (build-push) and
//     CodeOnly (a built artifact from new code and existing dependencies,
//     without any build or upload), and Result, what build-push reports in
//     its termination message for the operator to parse; OpenDeps, which
//     opens what pip's step (hostile code) left for build-push without
//     following links;
//   - ValidateRequirements: a requirements.txt may hold requirement
//     specifiers only, checked by the CLI before pushing and by
//     build-fetch before pip runs; Redact: the platform's secrets out of a
//     build message before a tenant reads it.
//
// It must not know about Kubernetes (Jobs, Secrets, Functions), how the
// registry's address is found, how pip is run (it packs whatever folder pip
// filled; it knows pip's requirements file format only to refuse what is
// not a plain requirement), or the node-local fetcher's cache and HTTP API.
// Archives and manifests are read and written through internal/packages
// only.
package packagebuild
