#!/usr/bin/env bash
# The demo: a generated LiveAgent-like database migrated end to end on this
# machine. The source side (check → isolate → drain → cron → dump → verify → push)
# and the cloud side (pull → verify → import → verify against the database →
# adjust → restore the sources) each run as one `lamigrate run` plan; the
# "cloud" is a second database and the transfer goes to a local folder.
#
#   DEMO_SIZE   size of the generated database (default 64MiB)
#   DEMO_DIR    where files go (default ./demo-out, recreated)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

size=${DEMO_SIZE:-64MiB}
out=$(realpath -m "${DEMO_DIR:-demo-out}")
src=lamigrate_demo_source
dst=lamigrate_demo_cloud
sock=/run/mysqld/mysqld.sock
bin="$out/bin/lamigrate"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

rm -rf "$out" && mkdir -p "$out"/{bin,source,dropbox,cloud}
step "build lamigrate"
go build -o "$bin" ./cmd/lamigrate

step "generate a $size LiveAgent-like source database ($src)"
mariadb -uroot -e "DROP DATABASE IF EXISTS $src; DROP DATABASE IF EXISTS $dst; CREATE DATABASE $dst"
go run ./internal/lagen/cmd/lagen --dsn "root@unix($sock)/$src" --size "$size" --create

# Background jobs are still pending in the generated data; a real
# installation's cron finishes them. Simulate that a few seconds in, so the
# drain step has something to wait for.
( sleep 4; mariadb -uroot "$src" -e "UPDATE qu_g_queued_jobs SET status = 'F'" ) &

cat > "$out/source.json" <<JSON
{
  "side": "source",
  "connection": {"dsn": "root@unix($sock)/$src"},
  "output_dir": "$out/source",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$out/dropbox/"},
  "check": {"allow_blockers": true},
  "drain": {"timeout": "2m", "interval": "1s"}
}
JSON
step "source side: lamigrate run --config source.json"
"$bin" run --config "$out/source.json"

cat > "$out/cloud.json" <<JSON
{
  "side": "cloud",
  "connection": {"dsn": "root@unix($sock)/$dst"},
  "output_dir": "$out/cloud",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$out/dropbox/"},
  "adjust": {"rules": "$PWD/scripts/demo/rules.json", "params": {"domain": "demo.ladesk.com"}}
}
JSON
step "cloud side: lamigrate run --config cloud.json"
"$bin" run --config "$out/cloud.json"

# The cloud run's verify-db step proved the import equal to the dump's
# manifest, row for row, before adjust and restore changed it on purpose.
step "proof: the archive is whole, and the cloud run verified the import row for row"
"$bin" verify "$out/cloud/dump.sql.gz"

step "the source installation stays isolated (as in a real migration); undo it with:"
echo "  $bin restore --dsn 'root@unix($sock)/$src' --state $out/source/isolate-state.json"
echo
echo "demo finished: files in $out, databases $src and $dst"
