#!/usr/bin/env bash
# procedure-check: walks the README's by-hand sequence and a `lamigrate run` of
# both sides against a generated installation whose background jobs are run
# by a real crontab line, and checks that the procedure is safe in the
# article's order:
#
#   - the jobs drain (cron stays on until they are done), cron is off at the end;
#   - a second isolate into a new state file is refused, naming the first;
#   - `isolate --cron` with pending jobs is refused, naming drain;
#   - a failing step switches nothing back on that an earlier step isolated;
#   - the cloud side restores database rows only, never this machine's crontab;
#   - every hint the tool prints that this script can follow works when pasted.
#
# LiveAgent's cron is played by a loop that finishes one pending job a second
# only while the jobs.php line of the crontab is active (not commented out).
# The crontab is the real one (crontab(1)) of a throwaway system user,
# lamigrate-cron, created when missing. Needs root (or sudo) like setup.sh.
#
#   CHECK_DIR   where files go (default ./procedure-out, recreated)
#
# Prints one PASS/FAIL line per check; exits 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

out=$(realpath -m "${CHECK_DIR:-procedure-out}")
sock=/run/mysqld/mysqld.sock
src=lamigrate_proc_source
dst=lamigrate_proc_cloud
bin="$out/bin/lamigrate"
cronuser=lamigrate-cron
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo

rm -rf "$out" && mkdir -p "$out"/{bin,source,dropbox,cloud,run-source,run-dropbox,run-cloud,run-cloud2}
go build -o "$bin" ./cmd/lamigrate

fails=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }
step() { printf '\n== %s\n' "$*"; }
sql() { mariadb -uroot -N -B "$@"; }
# run_la NAME ARGS...: runs lamigrate, keeps its output in $out/NAME.out and
# its exit status in $rc, and shows both.
run_la() {
  local name=$1; shift
  set +e
  "$bin" "$@" >"$out/$name.out" 2>&1
  rc=$?
  set -e
  printf '$ lamigrate %s\n' "$*"
  sed 's/^/    /' "$out/$name.out" | tail -n 25
  printf '    (exit %d)\n' "$rc"
}
expect_rc() { # WANT WHAT
  if [ "$rc" = "$1" ]; then pass "$2 (exit $rc)"; else fail "$2: exit $rc, want $1"; fi
}
expect_out() { # NAME REGEX WHAT
  if grep -Eq -- "$2" "$out/$1.out"; then pass "$3"; else fail "$3: output of $1 lacks /$2/"; fi
}
pending() { sql "$1" -e "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F'"; }
active_mail() { sql "$1" -e "SELECT COUNT(*) FROM qu_la_mail_accounts WHERE status IN ('A','P','S')"; }
cron_active() { $sudo crontab -u "$cronuser" -l 2>/dev/null | grep -v '^[[:space:]]*#' | grep -c 'jobs\.php' || true; }
cron_disabled() { $sudo crontab -u "$cronuser" -l 2>/dev/null | grep -c '^#lamigrate-disabled#.*jobs\.php' || true; }

# --- the installation -------------------------------------------------------
step "a generated LiveAgent installation ($src) and an empty cloud database ($dst)"
id "$cronuser" >/dev/null 2>&1 || $sudo useradd --system --no-create-home --shell /usr/sbin/nologin "$cronuser"
new_installation() {
  sql -e "DROP DATABASE IF EXISTS $src; DROP DATABASE IF EXISTS $dst; CREATE DATABASE $dst"
  go run ./internal/lagen/cmd/lagen --dsn "root@unix($sock)/$src" --size 4MiB --create
  # Five unfinished jobs; the cron stand-in finishes them one a second.
  sql "$src" -e "UPDATE qu_g_queued_jobs SET status = 'F'; UPDATE qu_g_queued_jobs SET status = 'P' ORDER BY queuedjobid LIMIT 5"
  printf '%s\n' '# LiveAgent background jobs' '* * * * * php -q /var/www/liveagent/scripts/jobs.php' |
    $sudo crontab -u "$cronuser" -
}
new_installation
echo "pending jobs: $(pending $src); active mail accounts: $(active_mail $src); active jobs.php lines: $(cron_active)"

# The cron stand-in: while the jobs.php line is active, finish one job a second.
(
  while sleep 1; do
    if [ "$(cron_active)" -gt 0 ]; then
      sql "$src" -e "UPDATE qu_g_queued_jobs SET status = 'F' WHERE status != 'F' ORDER BY queuedjobid LIMIT 1" 2>/dev/null || true
    fi
  done
) &
cronpid=$!
trap 'kill $cronpid 2>/dev/null || true' EXIT

export LAMIGRATE_DSN="root@unix($sock)/$src"
cron=(--crontab-command "crontab -u $cronuser")
S="$out/source/isolate-state.json"

# --- the README's by-hand sequence, source side -----------------------------
step "by hand: check"
run_la check check --out-dir "$out/source" "${cron[@]}"
expect_out check 'jobs\.php' "check finds the jobs.php line in the configured crontab"
if [ "$rc" = 0 ] || [ "$rc" = 4 ]; then pass "check has no blockers (exit $rc)"; else fail "check: exit $rc"; fi

step "by hand: isolate --cron while jobs are pending is refused"
run_la isolate-cron-early isolate --state "$S" --cron "${cron[@]}"
[ "$rc" != 0 ] && pass "isolate --cron with pending jobs refused (exit $rc)" || fail "isolate --cron with pending jobs went ahead"
expect_out isolate-cron-early 'drain' "the refusal names drain"
[ "$(cron_active)" = 1 ] && pass "cron still on" || fail "cron was switched off"
[ "$(active_mail $src)" -gt 0 ] && pass "nothing isolated by the refused call" || fail "the refused call isolated sources"

step "by hand: isolate (sources)"
run_la isolate isolate --state "$S"
expect_rc 0 "isolate"
[ "$(active_mail $src)" = 0 ] && pass "no active mail account left" || fail "$(active_mail $src) mail accounts still active"
[ "$(cron_active)" = 1 ] && pass "cron still on before drain" || fail "cron switched off before drain"

step "by hand: isolating again into a new state file is refused"
run_la isolate-again isolate --state "$out/source/second-state.json"
[ "$rc" != 0 ] && pass "second isolate refused (exit $rc)" || fail "second isolate into a new state file went ahead"
expect_out isolate-again "isolate-state\.json" "the refusal names the state file holding the originals"

step "by hand: drain (the jobs run from cron, which is still on)"
run_la drain drain --timeout 2m --interval 1s
expect_rc 0 "drain"
[ "$(pending $src)" = 0 ] && pass "no pending job left" || fail "$(pending $src) jobs still pending"

step "by hand: a failing isolate --cron switches nothing back on"
run_la isolate-cron-fail isolate --state "$S" --cron --crontab-command "$out/no-such-crontab"
[ "$rc" != 0 ] && pass "isolate --cron with a missing crontab program fails (exit $rc)" || fail "isolate --cron with a missing crontab program succeeded"
[ "$(active_mail $src)" = 0 ] && pass "mail accounts stay isolated after the failure" || fail "the failure switched $(active_mail $src) mail accounts back on"

step "by hand: isolate --cron after the drain"
run_la isolate-cron isolate --state "$S" --cron "${cron[@]}"
expect_rc 0 "isolate --cron"
[ "$(cron_active)" = 0 ] && [ "$(cron_disabled)" = 1 ] && pass "the jobs.php line is commented out" || fail "cron line not disabled"

step "by hand: dump, verify, push"
run_la dump dump -o "$out/source/dump.sql.gz"
expect_rc 0 "dump"
run_la dump-bz2 dump -o "$out/source/dump.sql.bz2"
[ "$rc" != 0 ] && [ ! -e "$out/source/dump.sql.bz2" ] && pass "an unknown extension is refused (exit $rc)" || fail "dump -o .sql.bz2 went ahead"
run_la verify verify "$out/source/dump.sql.gz"
expect_rc 0 "verify"
run_la push-scp push "$out/source/dump.sql.gz" "root@127.0.0.1:$out/dropbox/"
[ "$rc" != 0 ] && pass "an scp-style destination is refused (exit $rc)" || fail "push to user@host:path went ahead"
expect_out push-scp 'sftp://' "the refusal gives the sftp:// spelling"
[ ! -e "root@127.0.0.1:$out" ] && pass "no local folder named like the scp destination" || fail "push created a local folder"
run_la push push "$out/source/dump.sql.gz" "$out/dropbox/"
expect_rc 0 "push"
[ -f "$out/dropbox/isolate-state.json" ] && pass "push carried the isolation state file" || fail "push did not carry isolate-state.json"

# --- cloud side ---------------------------------------------------------------
step "by hand, cloud side: pull, verify, import, verify --dsn, adjust, restore"
C="root@unix($sock)/$dst"
run_la pull pull "$out/dropbox/dump.sql.gz" "$out/cloud/dump.sql.gz"
expect_rc 0 "pull"
[ -f "$out/cloud/isolate-state.json" ] && pass "pull fetched the state file" || fail "pull did not fetch isolate-state.json"
run_la verify-cloud verify "$out/cloud/dump.sql.gz"
expect_rc 0 "verify (cloud)"
run_la import import --dsn "$C" "$out/cloud/dump.sql.gz"
expect_rc 0 "import"
run_la import-again import --dsn "$C" "$out/cloud/dump.sql.gz"
[ "$rc" != 0 ] && pass "import into a non-empty database refused (exit $rc)" || fail "import over the same tables went ahead"
if grep -q -- '--force' "$out/import-again.out"; then
  run_la import-force import --dsn "$C" --force "$out/cloud/dump.sql.gz"
  expect_rc 0 "import --force, as the hint says"
fi
run_la verify-db verify "$out/cloud/dump.sql.gz" --dsn "$C"
expect_rc 0 "verify --dsn"
run_la adjust adjust --dsn "$C" --rules examples/adjust-rules.json --param domain=help.example.com --record "$out/cloud/adjust-record.json"
expect_rc 0 "adjust"
undo=$(grep -Eo 'lamigrate adjust [^;]*--undo[^;]*' "$out/adjust.out" | head -n1 | sed 's/[.]$//' || true)
if [ -n "$undo" ]; then
  echo "pasting the printed undo hint: $undo"
  eval "run_la adjust-undo ${undo#lamigrate }"
  expect_rc 0 "the printed adjust undo hint works when pasted"
else
  fail "adjust printed no undo command"
fi
run_la restore-cloud restore --dsn "$C" --state "$out/cloud/isolate-state.json"
expect_rc 0 "cloud restore"
[ "$(active_mail $dst)" -gt 0 ] && pass "the cloud copy's sources are on again" || fail "cloud restore switched nothing on"
[ "$(cron_active)" = 0 ] && pass "cloud restore left this machine's crontab alone" || fail "cloud restore replayed the source's cron lines"

step "by hand: the customer's own restore (after the migration, or to abort)"
run_la restore restore --state "$S"
expect_rc 0 "source restore"
[ "$(cron_active)" = 1 ] && [ "$(active_mail $src)" -gt 0 ] && pass "cron and sources back on" || fail "source restore incomplete"

# --- the same with run --------------------------------------------------------
step "run: source side, then cloud side"
new_installation
cat >"$out/run-source.json" <<JSON
{
  "side": "source",
  "connection": {"dsn": "root@unix($sock)/$src"},
  "output_dir": "$out/run-source",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$out/run-dropbox/"},
  "isolate": {"cron": {"user": true, "command": ["crontab", "-u", "$cronuser"], "files": []}},
  "drain": {"timeout": "2m", "interval": "1s"}
}
JSON
run_la run-source run --config "$out/run-source.json"
expect_rc 0 "run (source)"
[ "$(pending $src)" = 0 ] && pass "run drained the jobs" || fail "run left $(pending $src) jobs pending"
[ "$(cron_active)" = 0 ] && pass "run switched cron off at the end" || fail "cron still on after the source run"
order=$(grep -Eo '\[[0-9]+/[0-9]+\] [a-z-]+' "$out/run-source.out" | awk '{print $2}' | uniq | tr '\n' ' ')
echo "step order: $order"
case "$order" in
  *isolate*drain*cron*dump*) pass "run's order: isolate, drain, cron, dump" ;;
  *) fail "run's order is $order" ;;
esac

cat >"$out/run-cloud.json" <<JSON
{
  "side": "cloud",
  "connection": {"dsn": "root@unix($sock)/$dst"},
  "output_dir": "$out/run-cloud",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$out/run-dropbox/"},
  "adjust": {"rules": "$PWD/scripts/demo/rules.json", "params": {"domain": "demo.ladesk.com"}}
}
JSON
run_la run-cloud run --config "$out/run-cloud.json"
expect_rc 0 "run (cloud)"
[ "$(cron_active)" = 0 ] && pass "the cloud run left this machine's crontab alone" || fail "the cloud run replayed cron lines"
[ -z "$(find "$out" -name '*.lock')" ] && pass "no .lock file left behind" || fail "lock files left: $(find "$out" -name '*.lock' | tr '\n' ' ')"

step "run: a failing cloud step prints a resume command that works when pasted"
sql -e "DROP DATABASE $dst; CREATE DATABASE $dst"
sql "$dst" -e "CREATE TABLE qu_g_settings (x INT)"
sed "s#$out/run-cloud\"#$out/run-cloud2\"#" "$out/run-cloud.json" >"$out/run-cloud2.json"
run_la run-cloud-fail run --config "$out/run-cloud2.json"
[ "$rc" != 0 ] && pass "the cloud run fails on a non-empty target (exit $rc)" || fail "the cloud run went ahead"
resume=$(grep -Eo 'lamigrate run --config [^;]* --resume' "$out/run-cloud-fail.out" | head -n1 || true)
if [ -n "$resume" ]; then
  sql "$dst" -e "DROP TABLE qu_g_settings"
  echo "pasting the printed resume hint: $resume"
  eval "run_la run-cloud-resume ${resume#lamigrate }"
  expect_rc 0 "the printed resume command works when pasted"
else
  fail "the failed run printed no resume command"
fi

"$bin" restore --dsn "root@unix($sock)/$src" --state "$out/run-source/isolate-state.json" >/dev/null 2>&1 || true
$sudo crontab -u "$cronuser" -r 2>/dev/null || true

echo
if [ "$fails" = 0 ]; then echo "procedure-check: every check passed"; else echo "procedure-check: $fails checks failed"; exit 1; fi
