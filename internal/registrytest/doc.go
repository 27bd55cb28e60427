// Package registrytest runs the platform's registry for tests: the CNCF
// Distribution binary built from hack/cluster/registry (the module the
// faas-registry image is built from, not linked into the tests: that would
// put distribution and its ~50 modules into the main module's build list),
// started with config/registry/config.yml, its own storage root and
// htpasswd account, behind a reverse proxy that records every request, so
// a test can tell whether and how often the registry was asked.
//
// A test binary calls Main from its TestMain; the registry is built once,
// by the first Start, and removed when the tests end.
//
// It must not know about packages, builds or the fetcher: it imports
// neither internal/packages nor internal/packagebuild (their own tests use
// it), and knows the account as a plain username and password. It must not
// be imported by anything but tests.
package registrytest
