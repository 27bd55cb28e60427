"""The generic Python runner of the FaaS platform.

It loads one function's code (from a mounted file, or handed over once by
the gateway in pool mode) or package (fetched from its node's fetcher),
then serves it over HTTP/1.1: calls on the call port, its own endpoints on
the admin port. It knows nothing of Kubernetes beyond the files and
environment the pod gives it. Standard library only.

Modules, one concern each:
  runnerapi   the platform contract's names and values (generated in Go)
  config      every setting and timeout, from the environment
  environ     takes the secrets (token hash, package ticket) out of the environment
  loader      source code (or its compiled .pyc) -> handler
  pyc         the compiled-code format shared by the compiler and the loader
  compiler    python3 -m runner.compiler: compiles sources for the gateway, runs none
  package     a package: fetched, unpacked, imported -> handler
  contract    the handler contract: Request, Headers, to_response
  protocol    HTTP/1.1 framing: the strict request reader, the response encoder
  server      connections, limits and deadlines on one event loop
  calls       the handler threads, call timeouts and stats
  admin       /_/ready, /_/health, /_/stats, /_/specialize (admin port)
  specialize  the one specialization of a pool pod
  app         the process: both ports, readiness, drain, exit
"""
