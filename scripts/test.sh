#!/usr/bin/env bash
# Runs grpcactor's tests: go test -race -count=1 -timeout 15m over the module.
#
#   ./scripts/test.sh                      # every package
#   ./scripts/test.sh -run TestPython -v   # extra go test flags are appended
#   ./scripts/test.sh ./system_test/...    # package patterns replace ./...
#
# An argument that starts with ./ ../ / or the module path, or is ".", is a
# package pattern; everything else is passed to go test as given, after the
# defaults (so -count=3 or -timeout 30m override them).
#
# Only Go is needed. The system tests that need the Python or Node peers skip,
# saying how to install them, unless CI is set (then they fail); .ci/run
# installs both peers:
#   apt-get install python3-grpcio python3-protobuf
#   cd system_test/node && npm install
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

module=github.com/grpcactor/grpcactor
pkgs=()
flags=()
for arg in "$@"; do
  case "$arg" in
    . | ./* | ../* | /* | "$module" | "$module"/*) pkgs+=("$arg") ;;
    *) flags+=("$arg") ;;
  esac
done
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(./...)
fi

# The race detector needs cgo and a C compiler. A developer's machine without
# one still runs the tests, without it; CI always runs with it.
race=(-race)
if [ "$(go env CGO_ENABLED)" != 1 ] || ! command -v "$(go env CC)" >/dev/null 2>&1; then
  if [ -n "${CI:-}" ] && [ "${CI:-}" != false ] && [ "${CI:-}" != 0 ]; then
    echo "test.sh: -race needs cgo and a C compiler ($(go env CC)); install gcc" >&2
    exit 1
  fi
  echo "test.sh: warning: no cgo or C compiler ($(go env CC)), running without -race" >&2
  race=()
fi

set -x
exec go test "${race[@]}" -count=1 -timeout 15m "${flags[@]}" "${pkgs[@]}"
