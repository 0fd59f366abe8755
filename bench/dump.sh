#!/usr/bin/env bash
# Benchmarks `lamigrate dump` against the documented pipeline and friends on
# the ~1 GB lamigrate_bench database (bench/setup-db.sh), with the default
# ignore list everywhere:
#
#   gzip   lamigrate dump -o F.sql.gz (2 connections, and --connections 1)
#                                       vs  mysqldump ... | gzip -9
#                                       (also mysqldump | pigz -9, mydumper -c -t 2)
#   zstd   lamigrate dump -o F.sql.zst  vs  mysqldump ... > F.sql (and vs our gzip)
#   memory peak RSS of both dumps, and of dumps of a scratch table of 25 MB rows
#
# All timings run back to back inside ONE flock /tmp/lamigrate-bench.lock.
# Wall times via /usr/bin/time. Set BENCH_SKIP_SLOW=1 to skip gzip -9/pigz/mydumper.
# BENCH_BASELINE=REV (a commit) also times that commit's lamigrate (gzip and
# zstd dumps) in the same run, for before/after figures.
set -euo pipefail
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
DSN="root@unix($SOCK)/$DB"
BIG=bench_dump_bigrows

bench/setup-db.sh >&2

work=$(mktemp -d /tmp/bench_dump.XXXXXX)
sql() { mariadb -uroot --socket="$SOCK" -N -B "$@"; }
cleanup() { rm -rf "$work"; sql -e "DROP DATABASE IF EXISTS $BIG" || true; }
trap cleanup EXIT

go build -o "$work/lamigrate" ./cmd/lamigrate
lm="$work/lamigrate"
base=""
if [ -n "${BENCH_BASELINE:-}" ]; then
  mkdir "$work/base-src"
  git archive "$BENCH_BASELINE" | tar -x -C "$work/base-src"
  (cd "$work/base-src" && go build -o "$work/lamigrate-base" ./cmd/lamigrate)
  rm -rf "$work/base-src"
  base="$work/lamigrate-base"
fi

ignores=""
for t in qu_g_logs qu_g_mail_message_sources qu_g_eventqueues qu_g_eventsubscriptions qu_g_news \
  qu_g_usernews qu_g_passwd_requests qu_g_queued_jobs qu_g_queued_plans qu_g_queue_delayed_jobs \
  qu_g_queue_failures qu_g_queue_jobs qu_g_queue_planed_jobs qu_g_sessions qu_g_session_values \
  qu_g_token_buckets qu_la_browser_visits qu_la_conversations_search qu_la_message_drafts qu_la_page_visits; do
  ignores+=" --ignore-table=$DB.$t"
  echo "$DB.$t" >> "$work/omit"
done
MYSQLDUMP="mysqldump -uroot --socket=$SOCK --single-transaction --skip-add-drop-table --max_allowed_packet=1G --hex-blob --no-create-db --net_buffer_length=16M $ignores $DB"

# The scratch table of 25 MB rows (random, so incompressible: worst case).
sql -e "SET GLOBAL max_allowed_packet = GREATEST(@@GLOBAL.max_allowed_packet, 256*1024*1024)"
sql -e "DROP DATABASE IF EXISTS $BIG; CREATE DATABASE $BIG; CREATE TABLE $BIG.big (id INT PRIMARY KEY, b LONGBLOB)"
for i in 1 2 3 4 5 6; do
  python3 -c "import os,sys; sys.stdout.write('INSERT INTO $BIG.big VALUES ($i, 0x' + os.urandom(25*1024*1024).hex() + ');')" |
    sql --max-allowed-packet=1G
done
rm -f "$work/blob"

# timed NAME CMD...: runs CMD under /usr/bin/time, prints "seconds maxrss_kb".
timed() {
  local name=$1; shift
  if ! /usr/bin/time -f "%e %M" -o "$work/$name.time" bash -c "$*" >"$work/$name.log" 2>&1; then
    echo "$name failed:" >&2; tail -5 "$work/$name.log" >&2
  fi
  tail -1 "$work/$name.time"
}

run_all() {
  echo "ours_gz $(timed ours_gz "$lm -q dump --dsn '$DSN' -o $work/ours.sql.gz")"
  echo "ours_gz1 $(timed ours_gz1 "$lm -q dump --connections 1 --dsn '$DSN' -o $work/ours1.sql.gz")"
  echo "ours_zst $(timed ours_zst "$lm -q dump --dsn '$DSN' -o $work/ours.sql.zst")"
  echo "plain $(timed plain "$MYSQLDUMP > $work/plain.sql")"
  if [ -n "$base" ]; then
    echo "base_gz $(timed base_gz "$base -q dump --dsn '$DSN' -o $work/base.sql.gz")"
    echo "base_zst $(timed base_zst "$base -q dump --dsn '$DSN' -o $work/base.sql.zst")"
  fi
  if [ "${BENCH_SKIP_SLOW:-0}" != 1 ]; then
    echo "gzip9 $(timed gzip9 "set -o pipefail; $MYSQLDUMP | gzip -9 > $work/ref.sql.gz")"
    echo "pigz9 $(timed pigz9 "set -o pipefail; $MYSQLDUMP | pigz -9 > $work/pigz.sql.gz")"
    echo "mydumper $(timed mydumper "mydumper -u root -S $SOCK -B $DB -c -t 2 -O $work/omit -o $work/mydumper")"
  fi
  echo "big_gz $(timed big_gz "$lm -q dump --dsn 'root@unix($SOCK)/$BIG' -o $work/big.sql.gz")"
  echo "big_zst $(timed big_zst "$lm -q dump --dsn 'root@unix($SOCK)/$BIG' -o $work/big.sql.zst")"
}

results=$(bash -c "$(declare -f timed run_all); work=$work lm=$lm base=$base DSN='$DSN' SOCK=$SOCK DB=$DB BIG=$BIG MYSQLDUMP='$MYSQLDUMP' BENCH_SKIP_SLOW=${BENCH_SKIP_SLOW:-0} run_all")

get() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' <<<"$results"; }
size() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.3f\", $1 / $2; else print \"-\" }"; }

printf '\ndump benchmark on %s (%s cores)\n\n' "$DB" "$(nproc)"
printf '  %-34s %9s %14s %11s\n' "run" "seconds" "bytes" "max RSS MB"
row() { printf '  %-34s %9s %14s %11s\n' "$1" "$(get "$2" 2)" "$3" "$(awk -v k="$(get "$2" 3)" 'BEGIN{ if (k != "") printf "%.0f", k/1024 }')"; }
row "lamigrate dump .sql.gz" ours_gz "$(size "$work/ours.sql.gz")"
row "lamigrate dump .sql.gz, 1 conn" ours_gz1 "$(size "$work/ours1.sql.gz")"
row "lamigrate dump .sql.zst" ours_zst "$(size "$work/ours.sql.zst")"
row "mysqldump > file" plain "$(size "$work/plain.sql")"
if [ -n "$base" ]; then
  row "baseline ${BENCH_BASELINE:0:12} .sql.gz" base_gz "$(size "$work/base.sql.gz")"
  row "baseline ${BENCH_BASELINE:0:12} .sql.zst" base_zst "$(size "$work/base.sql.zst")"
fi
if [ "${BENCH_SKIP_SLOW:-0}" != 1 ]; then
  row "mysqldump | gzip -9" gzip9 "$(size "$work/ref.sql.gz")"
  row "mysqldump | pigz -9" pigz9 "$(size "$work/pigz.sql.gz")"
  row "mydumper -c -t 2" mydumper "$(size "$work/mydumper")"
fi
row "lamigrate dump, 6 x 25 MB rows" big_gz "$(size "$work/big.sql.gz")"
row "lamigrate dump, 6 x 25 MB rows, zstd" big_zst "$(size "$work/big.sql.zst")"
echo
if [ "${BENCH_SKIP_SLOW:-0}" != 1 ]; then
  printf '  gzip time  ours / (mysqldump | gzip -9): %s  (target <= 0.15)\n' "$(ratio "$(get ours_gz 2)" "$(get gzip9 2)")"
  printf '  gzip time  ours 1 conn / gzip -9:       %s\n' "$(ratio "$(get ours_gz1 2)" "$(get gzip9 2)")"
  printf '  gzip size  ours / (mysqldump | gzip -9): %s  (target <= 1.05)\n' "$(ratio "$(size "$work/ours.sql.gz")" "$(size "$work/ref.sql.gz")")"
  printf '  gzip time  ours / (mysqldump | pigz -9): %s\n' "$(ratio "$(get ours_gz 2)" "$(get pigz9 2)")"
  printf '  gzip time  ours / (mydumper -c -t 2):    %s\n' "$(ratio "$(get ours_gz 2)" "$(get mydumper 2)")"
fi
printf '  zstd time  ours / (mysqldump > file):    %s  (target <= 1.0)\n' "$(ratio "$(get ours_zst 2)" "$(get plain 2)")"
printf '  zstd time  ours / our gzip:              %s  (target < 1: the fastest codec)\n' "$(ratio "$(get ours_zst 2)" "$(get ours_gz 2)")"
if [ "${BENCH_SKIP_SLOW:-0}" != 1 ]; then
  printf '  zstd size  ours / (mysqldump | gzip -9): %s  (target <= 1.0; <= 220 MB)\n' "$(ratio "$(size "$work/ours.sql.zst")" "$(size "$work/ref.sql.gz")")"
fi
if [ -n "$base" ]; then
  printf '  baseline   gzip time / plain: %s, zstd time / plain: %s, zstd / gzip: %s\n' \
    "$(ratio "$(get base_gz 2)" "$(get plain 2)")" "$(ratio "$(get base_zst 2)" "$(get plain 2)")" "$(ratio "$(get base_zst 2)" "$(get base_gz 2)")"
  printf '  ours       gzip time / plain: %s\n' "$(ratio "$(get ours_gz 2)" "$(get plain 2)")"
fi
printf '  peak RSS   %s MB (gzip), %s MB (zstd), %s MB (25 MB rows)  (target < 100 on %s)\n' \
  "$(awk -v k="$(get ours_gz 3)" 'BEGIN{printf "%.0f", k/1024}')" "$(awk -v k="$(get ours_zst 3)" 'BEGIN{printf "%.0f", k/1024}')" \
  "$(awk -v k="$(get big_gz 3)" 'BEGIN{printf "%.0f", k/1024}')" "$DB"
