// Package artifact packs a function's folder into the layers of its source
// artifact and pushes them: a "code" layer of the folder and, when it has
// a requirements.txt, a "requirements" layer of that file alone, whose
// digest keys the dependency build in the cluster. Both are deterministic:
// the same folder packs to the same digests, and a code change leaves the
// requirements layer's digest as it was.
//
// It knows the artifact's layout (internal/packages) but not Kubernetes,
// nor how the registry is reached or authenticated: Push takes any oras
// content.Storage.
package artifact
