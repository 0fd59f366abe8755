#!/usr/bin/env bash
# Benchmarks `lamigrate import` on the ~1 GB lamigrate_bench database
# (bench/setup-db.sh) against the stock client and myloader, each loading
# into a fresh scratch database, back to back inside ONE
# flock /tmp/lamigrate-bench.lock:
#
#   stock     gunzip < dump.sql.gz | mariadb bench_import_stock
#   ours      lamigrate import --dsn .../bench_import_ours dump.sql.gz --threads 2
#   myloader  myloader -t 2 on a mydumper -c -t 2 dump of the same database
#
# dump.sql.gz is the documented mysqldump command piped to gzip (pigz -9, the
# same format). BENCH_IGNORES=1 applies the default ignore list to both dumps.
# Afterwards the stock and our databases are compared table by table
# (CHECKSUM TABLE) and every scratch database is dropped.
set -euo pipefail
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
THREADS=${BENCH_THREADS:-2}

bench/setup-db.sh >&2

work=$(mktemp -d /tmp/bench_import.XXXXXX)
sql() { mariadb -uroot --socket="$SOCK" -N -B "$@"; }
dbs="bench_import_stock bench_import_ours bench_import_myloader"
cleanup() {
  rm -rf "$work"
  for d in $dbs; do sql -e "DROP DATABASE IF EXISTS $d" || true; done
}
trap cleanup EXIT

go build -o "$work/lamigrate" ./cmd/lamigrate

ignores="" omit=""
if [ "${BENCH_IGNORES:-0}" = 1 ]; then
  for t in qu_g_logs qu_g_mail_message_sources qu_g_eventqueues qu_g_eventsubscriptions qu_g_news \
    qu_g_usernews qu_g_passwd_requests qu_g_queued_jobs qu_g_queued_plans qu_g_queue_delayed_jobs \
    qu_g_queue_failures qu_g_queue_jobs qu_g_queue_planed_jobs qu_g_sessions qu_g_session_values \
    qu_g_token_buckets qu_la_browser_visits qu_la_conversations_search qu_la_message_drafts qu_la_page_visits; do
    ignores+=" --ignore-table=$DB.$t"
    echo "$DB.$t" >>"$work/omit"
  done
  omit="-O $work/omit"
fi

echo "making the dumps (not timed)..." >&2
mysqldump -uroot --socket="$SOCK" --single-transaction --skip-add-drop-table --max_allowed_packet=1G \
  --hex-blob --no-create-db --net_buffer_length=16M $ignores "$DB" | pigz -9 >"$work/dump.sql.gz"
mydumper -u root -S "$SOCK" -B "$DB" -c -t 2 $omit -o "$work/mydumper" >/dev/null 2>&1

# timed NAME CMD...: runs CMD under /usr/bin/time, prints "NAME seconds maxrss_kb".
timed() {
  local name=$1
  shift
  if ! /usr/bin/time -f "%e %M" -o "$work/$name.time" bash -c "$*" >"$work/$name.log" 2>&1; then
    echo "$name failed:" >&2
    tail -5 "$work/$name.log" >&2
  fi
  echo "$name $(tail -1 "$work/$name.time")"
}

run_all() {
  for d in $dbs; do sql -e "DROP DATABASE IF EXISTS $d; CREATE DATABASE $d"; done
  timed stock "set -o pipefail; gunzip < $work/dump.sql.gz | mariadb -uroot --socket=$SOCK bench_import_stock"
  timed ours "$work/lamigrate -q import --dsn 'root@unix($SOCK)/bench_import_ours' $work/dump.sql.gz --threads $THREADS"
  timed myloader "myloader -u root -S $SOCK -t 2 -d $work/mydumper -B bench_import_myloader"
}

export -f timed run_all sql
results=$(work=$work SOCK=$SOCK THREADS=$THREADS dbs="$dbs" bash -c run_all)

# Correctness: every table of ours equals the stock client's.
diffs=0
for t in $(sql -e "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench_import_stock' AND TABLE_TYPE='BASE TABLE'"); do
  a=$(sql -e "CHECKSUM TABLE bench_import_stock.\`$t\`" | cut -f2)
  b=$(sql -e "CHECKSUM TABLE bench_import_ours.\`$t\`" | cut -f2)
  if [ "$a" != "$b" ]; then
    echo "table $t differs: stock $a, ours $b" >&2
    diffs=$((diffs + 1))
  fi
done
nt=$(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench_import_stock'")
no=$(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench_import_ours'")

get() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' <<<"$results"; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }
stock=$(get stock 2) ours=$(get ours 2) myl=$(get myloader 2)

printf '\nimport benchmark on %s (%s cores), dump.sql.gz %s MB\n\n' "$DB" "$(nproc)" "$(du -m "$work/dump.sql.gz" | cut -f1)"
printf '  %-50s %9s %10s %11s\n' "run" "seconds" "vs stock" "max RSS MB"
row() { printf '  %-50s %9s %10s %11s\n' "$1" "$2" "$(ratio "$2" "$stock")" "$(awk -v k="$3" 'BEGIN{ printf "%.0f", k/1024 }')"; }
row "gunzip < dump.sql.gz | mariadb" "$stock" "$(get stock 3)"
row "lamigrate import --threads $THREADS" "$ours" "$(get ours 3)"
row "myloader -t 2 (mydumper -c -t 2 dump)" "$myl" "$(get myloader 3)"
printf '\n  ours vs myloader: %s\n' "$(ratio "$ours" "$myl")"
printf '  tables: stock %s, ours %s; tables whose CHECKSUM TABLE differs: %s\n' "$nt" "$no" "$diffs"
