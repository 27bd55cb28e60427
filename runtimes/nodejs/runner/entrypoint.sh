#!/bin/sh
# The image's entrypoint: takes the specialization token's hash out of the
# environment with a real exec, so that no process of the pod holds it in
# /proc/<pid>/environ, and hands it to the runner on fd 3 (a here-document
# is a pipe in dash). The variable `h` is not exported.
set -eu
main="${0%/*}/main.js"
if [ -n "${FAAS_SPECIALIZE_TOKEN_SHA256:-}" ]; then
  h=$FAAS_SPECIALIZE_TOKEN_SHA256
  unset FAAS_SPECIALIZE_TOKEN_SHA256
  export FAAS_SPECIALIZE_TOKEN_FD=3
  exec "${FAAS_NODE:-node}" "$main" 3<<EOF_HASH
$h
EOF_HASH
fi
exec "${FAAS_NODE:-node}" "$main"
