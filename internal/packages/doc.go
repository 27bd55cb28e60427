// Package packages turns a function's folder into an OCI artifact and back:
// it packs a folder into a deterministic tar+gzip layer, pushes layers and a
// manifest to an OCI registry with oras-go, fetches an artifact by digest
// only while verifying every blob, unpacks layers without letting an archive
// write outside its destination, and keeps a node-local cache of unpacked
// artifacts keyed by manifest digest.
//
// Every archive is treated as hostile, whoever built it: Unpack accepts only
// regular files and directories with canonical relative names, no links or
// devices, within a size and an entry limit (Limits).
//
// It must not know about Kubernetes (Functions, Secrets, pods), builds (pip,
// requirements.txt) or how a registry is found or authenticated: callers pass
// an oras target (a remote.Repository with its own client and credentials, or
// an in-memory store). It serves nothing over HTTP itself.
package packages
