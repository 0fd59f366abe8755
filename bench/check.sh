#!/usr/bin/env bash
# Measures what `lamigrate check` estimates, on the ~1 GB lamigrate_bench
# database (bench/setup-db.sh), and prints estimate vs reality:
#
#   SQL stream bytes and gzip archive bytes   check's estimate vs a real dump
#   dump throughput (MB/s of SQL)             documented mysqldump | pigz -6
#   import throughput (MB/s of SQL)           stock mariadb client into a
#                                             scratch database bench_check_import
#
# These are the figures behind migrate.DefaultDumpMBps/DefaultImportMBps.
# Every timing runs under flock /tmp/lamigrate-bench.lock.
set -euo pipefail
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
SCRATCH=bench_check_import
DSN="root@unix($SOCK)/$DB"

bench/setup-db.sh >&2

work=$(mktemp -d /tmp/bench_check.XXXXXX)
sql() { mariadb -uroot --socket="$SOCK" -N -B "$@"; }
cleanup() { sql -e "DROP DATABASE IF EXISTS $SCRATCH" || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/lamigrate" ./cmd/lamigrate
"$work/lamigrate" -q check --json --dsn "$DSN" --out-dir "$work" >"$work/check.json" 2>/dev/null || true
est_sql=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["facts"]["size"]["sql_bytes"])' "$work/check.json")
est_gz=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["facts"]["size"]["archive_bytes"])' "$work/check.json")
est_s=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["facts"]["downtime"]; print(d["dump_seconds"], d["import_seconds"])' "$work/check.json")
timed() { # timed NAME CMD...: wall seconds of CMD, under the bench lock
  local name=$1; shift
  /usr/bin/time -f %e -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" || true
  tail -1 "$work/$name.time"
}
check_s=$(timed check "$work/lamigrate" -q check --json --dsn "$DSN" --out-dir "$work")

ignores=$(sql -e "SELECT CONCAT('--ignore-table=$DB.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB' AND TABLE_NAME IN ('qu_g_logs','qu_g_mail_message_sources','qu_g_eventqueues','qu_g_eventsubscriptions','qu_g_news','qu_g_usernews','qu_g_passwd_requests','qu_g_queued_jobs','qu_g_queued_plans','qu_g_queue_delayed_jobs','qu_g_queue_failures','qu_g_queue_jobs','qu_g_queue_planed_jobs','qu_g_sessions','qu_g_session_values','qu_g_token_buckets','qu_la_browser_visits','qu_la_conversations_search','qu_la_message_drafts','qu_la_page_visits')" | tr '\n' ' ')

# shellcheck disable=SC2086
dump_s=$(timed dump bash -c "set -o pipefail; mysqldump -uroot --socket='$SOCK' --single-transaction --skip-add-drop-table --max_allowed_packet=1G --hex-blob --no-create-db --net_buffer_length=16M $ignores '$DB' | tee >(wc -c > '$work/sqlbytes') | pigz -6 > '$work/dump.sql.gz'")
sleep 1 # let the tee'd wc finish writing
real_sql=$(cat "$work/sqlbytes")
real_gz=$(stat -c %s "$work/dump.sql.gz")

sql -e "DROP DATABASE IF EXISTS $SCRATCH; CREATE DATABASE $SCRATCH"
import_s=$(timed import bash -c "set -o pipefail; pigz -dc '$work/dump.sql.gz' | mariadb -uroot --socket='$SOCK' --max_allowed_packet=1G $SCRATCH")

python3 - "$est_sql" "$real_sql" "$est_gz" "$real_gz" "$dump_s" "$import_s" "$check_s" $est_s <<'EOF'
import sys
est_sql, real_sql, est_gz, real_gz = map(int, sys.argv[1:5])
dump_s, import_s, check_s, est_dump_s, est_import_s = map(float, sys.argv[5:10])
mb = 1e6
print(f"{'measure':34} {'estimate':>12} {'actual':>12} {'est/actual':>10}")
print(f"{'SQL stream (MB)':34} {est_sql/mb:12.1f} {real_sql/mb:12.1f} {est_sql/real_sql:10.2f}")
print(f"{'gzip archive (MB)':34} {est_gz/mb:12.1f} {real_gz/mb:12.1f} {est_gz/real_gz:10.2f}")
print(f"{'dump seconds (mysqldump|pigz -6)':34} {est_dump_s:12.1f} {dump_s:12.1f} {est_dump_s/dump_s:10.2f}")
print(f"{'import seconds (mariadb client)':34} {est_import_s:12.1f} {import_s:12.1f} {est_import_s/import_s:10.2f}")
print(f"{'dump throughput (MB/s of SQL)':34} {'':12} {real_sql/mb/dump_s:12.1f}")
print(f"{'import throughput (MB/s of SQL)':34} {'':12} {real_sql/mb/import_s:12.1f}")
print(f"{'lamigrate check itself (s)':34} {'':12} {check_s:12.1f}")
EOF
