#!/usr/bin/env bash
# Codec micro-benchmark on a real dump: `lamigrate dump -o F.sql` of the
# bench database (bench/setup-db.sh, default ignore list) is fed to the Go
# benchmarks of internal/codec (BenchmarkWriter: each codec and level alone;
# BenchmarkDumpLike: the codec behind a dump-like pipeline of two formatting
# goroutines and one ordered writer), once on the machine as it is and once
# with two CPU-bound processes beside it (a busy machine). Sizes are exact;
# compare times as ratios within one run. CPU time per op (all goroutines)
# is printed too.
#
#   BENCH_FILTER  benchmark regexp (default: both)   BENCH_COUNT  -count (default 2)
set -euo pipefail
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
bench/setup-db.sh >&2

work=$(mktemp -d /tmp/bench_codec.XXXXXX)
spinners=()
cleanup() {
  for p in "${spinners[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/lamigrate" ./cmd/lamigrate
go test -c -o "$work/codec.test" ./internal/codec
"$work/lamigrate" -q dump --dsn "root@unix($SOCK)/$DB" -o "$work/sample.sql" >/dev/null
echo "sample: $(stat -c %s "$work/sample.sql") bytes of SQL ($DB, lamigrate dump defaults)"

run() {
  LAMIGRATE_CODEC_SAMPLE="$work/sample.sql" "$work/codec.test" -test.run '^$' \
    -test.bench "${BENCH_FILTER:-Writer|DumpLike}" -test.benchtime 1x -test.count "${BENCH_COUNT:-2}" |
    awk '/^Benchmark/ { printf "  %-44s %8.0f ms  cpu %8.0f ms  %12d bytes\n", $1, $3/1e6, $9/1e6, $7 }'
}
echo "quiet (as the machine is: $(cut -d' ' -f1-3 /proc/loadavg))"
run
for _ in 1 2; do
  bash -c 'while :; do :; done' &
  spinners+=($!)
done
echo "busy (two CPU-bound processes beside it)"
run
