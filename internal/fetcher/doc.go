// Package fetcher is the node-local package fetcher (faas-package fetcher):
// the only component that pulls function packages from the registry on
// behalf of runners, which hold no registry credentials.
//
// A runner asks GET /v1/packages/<namespace>/<function>/sha256:<hex> with
// the ticket of its own package (packages.Ticket). The fetcher checks the
// ticket before it touches its cache or the registry, fetches the built
// artifact by digest from faas/<namespace>/<function> on a miss (verified,
// unpacked safely, one fetch per artifact however many ask at once), and
// answers an uncompressed tar of code/ and deps/ that it built once, when
// the artifact entered its cache, and serves with sendfile. The cache is
// node-local (an emptyDir of the DaemonSet's pod) and bounded; the entries
// served least recently are evicted first.
//
// It must not know about Functions, the operator, builds (pip, the source
// artifact), or runners beyond the wire contract of internal/runnerapi. Of
// Kubernetes it knows one thing: how to read the registry Service's
// ClusterIP, since clusters need not run DNS.
package fetcher
