#!/usr/bin/env bash
# The test command: installs and starts what the tests need, then vets and
# runs every test against a real MariaDB (and OpenSSH where a test wants it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt: these files are not formatted:" >&2; gofmt -l .; exit 1; }
go vet ./...
go test -count=1 -timeout 20m "$@" ./...
