#!/usr/bin/env bash
# Benchmarks `lamigrate verify` against the reference tools on the ~1 GB
# lamigrate_bench database (bench/setup-db.sh):
#
#   archive check   lamigrate verify FILE.sql.gz     vs  gzip -t FILE.sql.gz
#   database check  lamigrate verify FILE --dsn ...  vs  one CHECKSUM TABLE pass
#                                                        over the same tables
#
# The archive and its manifest are made by lamigrate's dumper (the dump verb,
# or the dump package when the verb is not built yet) with the default ignore
# list; with BENCH_MYSQLDUMP=1 the archive is `mysqldump | pigz` instead
# (checked as a plain mysqldump file; no database check then). Every timing
# runs under flock /tmp/lamigrate-bench.lock, ours and the reference back to
# back, best of ${BENCH_RUNS:-3}.
set -euo pipefail
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
RUNS=${BENCH_RUNS:-3}
DSN="root@unix($SOCK)/$DB"

bench/setup-db.sh >&2

work=$(mktemp -d /tmp/bench_verify.XXXXXX)
helper=bench/.verify-dump-$$
cleanup() { rm -rf "$work" "$helper"; }
trap cleanup EXIT

go build -o "$work/lamigrate" ./cmd/lamigrate
lm="$work/lamigrate"
archive="$work/dump.sql.gz"
sql() { mariadb -uroot --socket="$SOCK" -N -B "$@"; }

# --- the archive --------------------------------------------------------------
if [ "${BENCH_MYSQLDUMP:-0}" = 1 ]; then
  ignores=$(sql -e "SELECT CONCAT('--ignore-table=$DB.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB' AND TABLE_NAME IN ('qu_g_logs','qu_g_mail_message_sources','qu_g_eventqueues','qu_g_eventsubscriptions','qu_g_news','qu_g_usernews','qu_g_passwd_requests','qu_g_queued_jobs','qu_g_queued_plans','qu_g_queue_delayed_jobs','qu_g_queue_failures','qu_g_queue_jobs','qu_g_queue_planed_jobs','qu_g_sessions','qu_g_session_values','qu_g_token_buckets','qu_la_browser_visits','qu_la_conversations_search','qu_la_message_drafts','qu_la_page_visits')")
  # shellcheck disable=SC2086
  mysqldump -uroot --socket="$SOCK" --single-transaction --skip-add-drop-table --max_allowed_packet=1G \
    --hex-blob --no-create-db --net_buffer_length=16M $ignores "$DB" | pigz -6 > "$archive"
elif ! "$lm" -q dump --dsn "$DSN" -o "$archive" 2>"$work/dump.err"; then
  if ! grep -q "not built" "$work/dump.err"; then cat "$work/dump.err" >&2; exit 1; fi
  # The verb is not wired yet: call the dump package directly.
  mkdir -p "$helper"
  cat > "$helper/main.go" <<'EOF'
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/dump"
)

func main() {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "unix", os.Args[1], os.Args[2]
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(c)
	if _, err := dump.File(context.Background(), db, os.Args[3], dump.Config{Database: os.Args[2]}, dump.Options{ToolVersion: "bench"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
EOF
  go run "./$helper" "$SOCK" "$DB" "$archive"
fi
size=$(stat -c %s "$archive")

best() { # best wall-clock seconds of RUNS runs of "$@" (output discarded)
  local b="" t s e
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; "$@" >&2 || true; exit 1; }
    e=$(date +%s.%N)
    t=$(awk "BEGIN{print $e - $s}")
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}

# --- archive check vs gzip -t ---------------------------------------------------
cat "$archive" > /dev/null # warm the page cache for both
read -r t_ours t_gzip < <(bash -c "
  $(declare -f best); RUNS=$RUNS
  echo \$(best '$lm' -q verify --no-manifest '$archive') \$(best gzip -t '$archive')")
plain=$("$lm" --json -q verify --no-manifest "$archive" | sed -n 's/.*"bytes": \([0-9]*\).*/\1/p' | sed -n 2p)

# --- database check vs CHECKSUM TABLE ---------------------------------------------
t_db="" t_ck="" t_full="" ntables=0
if [ -f "$archive.manifest.json" ]; then
  tables=$(python3 -c 'import json,sys; print(",".join("`%s`" % t["name"].replace("`","``") for t in json.load(open(sys.argv[1]))["tables"]))' "$archive.manifest.json")
  ntables=$(awk -F, '{print NF}' <<<"$tables")
  # The database part by verify's own timer (the archive part is measured
  # above), best of RUNS, then CHECKSUM TABLE best of RUNS, back to back.
  read -r t_db t_full t_ck < <(bash -c "
    $(declare -f best); RUNS=$RUNS
    b=''; f=''
    for _ in \$(seq $RUNS); do
      s=\$(date +%s.%N)
      out=\$('$lm' --json -q verify '$archive' --dsn '$DSN') || { echo \"\$out\" >&2; exit 1; }
      e=\$(date +%s.%N)
      d=\$(python3 -c 'import json,sys; print(json.load(sys.stdin)[\"database\"][\"seconds\"])' <<<\"\$out\")
      if [ -z \"\$b\" ] || awk \"BEGIN{exit !(\$d < \$b)}\"; then b=\$d; f=\$(awk \"BEGIN{print \$e - \$s}\"); fi
    done
    echo \$b \$f \$(best mariadb -uroot --socket='$SOCK' '$DB' -e 'CHECKSUM TABLE $tables')")
fi

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }
printf '\nverify benchmark on %s (%s cores, best of %s)\n' "$DB" "$(nproc)" "$RUNS"
printf '  archive %s: %d bytes, %s bytes of SQL\n\n' "$(basename "$archive")" "$size" "${plain:-?}"
printf '  %-42s %10s %10s %8s\n' "check" "ours (s)" "ref (s)" "ratio"
printf '  %-42s %10.2f %10.2f %8s\n' "archive: lamigrate verify vs gzip -t" "$t_ours" "$t_gzip" "$(ratio "$t_ours" "$t_gzip")"
if [ -n "$t_db" ]; then
  printf '  %-42s %10.2f %10.2f %8s\n' "database ($ntables tables) vs CHECKSUM TABLE" "$t_db" "$t_ck" "$(ratio "$t_db" "$t_ck")"
  printf '  (verify FILE --dsn, archive and database, took %.2f s in all)\n' "$t_full"
fi
