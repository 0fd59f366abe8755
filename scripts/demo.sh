#!/usr/bin/env bash
# The demo: a generated LiveAgent-like database migrated end to end on this
# machine, twice. The "cloud" is a second (and a third) database and the
# transfer goes to a local folder.
#
# Part 1, one run per side: the source side (check → isolate → drain → cron →
# dump → verify → push) and the cloud side (pull → verify → import → verify
# against the database → adjust → restore the sources) each run as one
# `lamigrate run` plan.
#
# Part 2, the same migration in two phases: the source is switched back on,
# then pre-copies on both sides while the help desk stays live (a customer
# replies every few tenths of a second, and batches of plain SQL update,
# delete and insert conversations, messages, contacts and an attachment
# between them), then the cutover on both sides, which carries only what
# changed since the last copy. A table at the end says what each phase moved,
# how long each side took and how long the help desk was off.
#
#   DEMO_SIZE   size of the generated database (default 64MiB)
#   DEMO_DIR    where files go (default ./demo-out, recreated)
set -euo pipefail
started=$EPOCHREALTIME
cd "$(dirname "$0")/.."
scripts/setup.sh

size=${DEMO_SIZE:-64MiB}
out=$(realpath -m "${DEMO_DIR:-demo-out}")
src=lamigrate_demo_source
dst=lamigrate_demo_cloud
dst2=lamigrate_demo_cloud_phased
sock=/run/mysqld/mysqld.sock
bin="$out/bin/lamigrate"
p="$out/phases" # part 2's files

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
part() { printf '\n%s######## %s%s\n' "$bold" "$*" "$plain"; }

rm -rf "$out" && mkdir -p "$out"/{bin,source,dropbox,cloud} "$p"/{source,dropbox,cloud}
step "build lamigrate"
go build -o "$bin" ./cmd/lamigrate

step "generate a $size LiveAgent-like source database ($src)"
mariadb -uroot -e "DROP DATABASE IF EXISTS $src; DROP DATABASE IF EXISTS $dst; CREATE DATABASE $dst; DROP DATABASE IF EXISTS $dst2; CREATE DATABASE $dst2"
go run ./internal/lagen/cmd/lagen --dsn "root@unix($sock)/$src" --size "$size" --create

part "part 1: the whole migration in one run per side"

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

part1_ended=$EPOCHREALTIME
part "part 2: the same migration in two phases, into $dst2"
# The configs are part 1's with a "phase". Each phase keeps its own journal
# and archive in the same output folder (dump.copy-1.sql.gz,
# dump.copy-2.sql.gz, dump.cutover.sql.gz); every copy after the first and
# the cutover are deltas since the copy before.
for phase in pre-copy cutover; do
  cat > "$p/source-$phase.json" <<JSON
{
  "side": "source",
  "phase": "$phase",
  "connection": {"dsn": "root@unix($sock)/$src"},
  "output_dir": "$p/source",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$p/dropbox/"},
  "check": {"allow_blockers": true},
  "drain": {"timeout": "2m", "interval": "1s"}
}
JSON
  cat > "$p/cloud-$phase.json" <<JSON
{
  "side": "cloud",
  "phase": "$phase",
  "connection": {"dsn": "root@unix($sock)/$dst2"},
  "output_dir": "$p/cloud",
  "archive": "dump.sql.gz",
  "transfer": {"url": "$p/dropbox/"},
  "adjust": {"rules": "$PWD/scripts/demo/rules.json", "params": {"domain": "demo.ladesk.com"}}
}
JSON
done

step "the source installation is switched back on (what the customer runs to abort a migration)"
"$bin" restore --dsn "root@unix($sock)/$src" --state "$out/source/isolate-state.json"

# The help desk at work until the cutover: a customer replies in a random
# conversation every 0.3 s (a new message, the counters of its group and
# conversation updated). It stops before the cutover, as isolate would stop
# the channels it comes through.
helpdesk_stop() {
  [ -n "${helpdesk_pid:-}" ] || return 0
  touch "$p/helpdesk.stop"
  wait "$helpdesk_pid" || true
  helpdesk_pid=
}
trap helpdesk_stop EXIT
(
  n=0
  while [ ! -e "$p/helpdesk.stop" ]; do
    n=$((n + 1))
    mariadb -uroot "$src" -e "
      SET @g := (SELECT messagegroupid FROM qu_la_message_groups ORDER BY RAND() LIMIT 1);
      INSERT INTO qu_la_messages (messageid, messagegroupid, rtype, rstatus, format, datecreated, message)
        VALUES (CONCAT('live', LPAD($n, 4, '0')), @g, 'M', 'D', 'T', NOW(), 'Thanks, that helped! (live reply $n)');
      UPDATE qu_la_message_groups SET messages_count = messages_count + 1 WHERE messagegroupid = @g;
      UPDATE qu_la_conversations SET messages_count = messages_count + 1, datechanged = NOW(), last_activity = NOW()
        WHERE conversationid = (SELECT conversationid FROM qu_la_message_groups WHERE messagegroupid = @g)" ||
      echo "demo: the help desk's reply $n failed" >&2
    sleep 0.3
  done
) &
helpdesk_pid=$!
echo "the help desk stays live: a customer replies every 0.3 s until the cutover"

# sql TITLE STATEMENT: runs STATEMENT on the source and says how many rows it changed.
sql() {
  local n
  n=$(mariadb -uroot -N "$src" -e "$2; SELECT ROW_COUNT()")
  printf '  %-44s %3s row%s\n' "$1" "$n" "$([ "$n" = 1 ] || echo s)"
}

step "pre-copy 1, source side (nothing isolated; the whole database): lamigrate run --config source-pre-copy.json"
"$bin" run --config "$p/source-pre-copy.json"
step "pre-copy 1, cloud side: lamigrate run --config cloud-pre-copy.json"
"$bin" run --config "$p/cloud-pre-copy.json"

step "the agents work on (plain SQL on $src)"
sql "conversations resolved" \
  "UPDATE qu_la_conversations SET rstatus = 'R', datechanged = NOW(), datefinished = NOW() WHERE rstatus <> 'R' ORDER BY RAND() LIMIT 25"
sql "contacts edited" \
  "UPDATE qu_la_contacts SET company = 'Quality Unit', datechanged = NOW() ORDER BY RAND() LIMIT 20"
sql "contacts added" \
  "INSERT INTO qu_la_contacts (contactid, firstname, lastname, emails, dateinserted) SELECT CONCAT('new', LPAD(seq, 5, '0')), 'New', CONCAT('Customer ', seq), CONCAT('new', seq, '@example.com'), NOW() FROM seq_1_to_12"
sql "contacts merged away (deleted)" \
  "DELETE FROM qu_la_contacts WHERE contactid NOT LIKE 'new%' ORDER BY RAND() LIMIT 4"
sql "agents' answers (messages added)" \
  "INSERT INTO qu_la_messages (messageid, messagegroupid, rtype, rstatus, format, userid, datecreated, message) SELECT CONCAT('ans', LPAD(seq, 5, '0')), (SELECT messagegroupid FROM qu_la_message_groups ORDER BY RAND() LIMIT 1), 'M', 'D', 'H', (SELECT userid FROM qu_g_users LIMIT 1), NOW(), CONCAT('<p>Hello, here is answer ', seq, '.</p>') FROM seq_1_to_40"
sql "spam messages deleted" \
  "DELETE FROM qu_la_messages WHERE messageid NOT LIKE 'live%' AND messageid NOT LIKE 'ans%' ORDER BY RAND() LIMIT 6"
sql "an attachment forwarded (file + content)" \
  "INSERT INTO qu_g_files (fileid, filename, filesize, filetype, dateinserted) SELECT 'fwd00001', CONCAT('Fwd ', filename), filesize, filetype, NOW() FROM qu_g_files ORDER BY filesize DESC LIMIT 1; INSERT INTO qu_g_filecontents (fileid, contentid, content) SELECT 'fwd00001', 1, content FROM qu_g_filecontents WHERE fileid = (SELECT fileid FROM qu_g_files WHERE fileid <> 'fwd00001' ORDER BY filesize DESC LIMIT 1) AND contentid = 1"

step "pre-copy 2, source side (a delta since pre-copy 1, the help desk still live): lamigrate run --config source-pre-copy.json"
"$bin" run --config "$p/source-pre-copy.json"
step "pre-copy 2, cloud side (the delta, checked against the cloud database first): lamigrate run --config cloud-pre-copy.json"
"$bin" run --config "$p/cloud-pre-copy.json"

step "the last minutes before the cutover (plain SQL on $src)"
sql "conversations answered" \
  "UPDATE qu_la_conversations SET rstatus = 'A', datechanged = NOW() WHERE rstatus <> 'A' ORDER BY RAND() LIMIT 5"
sql "a contact added yesterday corrected" \
  "UPDATE qu_la_contacts SET firstname = 'Renamed', datechanged = NOW() WHERE contactid = 'new00001'"
sql "a contact added" \
  "INSERT INTO qu_la_contacts (contactid, firstname, lastname, emails, dateinserted) VALUES ('late0001', 'Late', 'Customer', 'late@example.com', NOW())"
sql "a spam conversation deleted" \
  "DELETE FROM qu_la_conversations ORDER BY RAND() LIMIT 1"
sql "messages deleted" \
  "DELETE FROM qu_la_messages WHERE messageid LIKE 'ans%' ORDER BY RAND() LIMIT 2"
helpdesk_stop
echo "  the help desk's live replies stop here: $(mariadb -uroot -N "$src" -e "SELECT COUNT(*) FROM qu_la_messages WHERE messageid LIKE 'live%'") so far"

step "cutover, source side (isolate, drain, cron, a delta since pre-copy 2 that proves nothing wrote, verify, push): lamigrate run --config source-cutover.json"
"$bin" run --config "$p/source-cutover.json"
step "cutover, cloud side (pull, verify, import the delta, verify-db, adjust, restore): lamigrate run --config cloud-cutover.json"
"$bin" run --config "$p/cloud-cutover.json"

step "proof: the cutover's manifest describes the whole source, which is still isolated as the cutover dumped it"
"$bin" verify "$p/source/dump.cutover.sql.gz" --dsn "root@unix($sock)/$src"

step "proof: $dst2 equals $src table by table, except where the cloud run changed it on purpose"
# adjust changed the tables its rules name; restore switched the sources back
# on in the tables the isolation state file records (the source stays
# isolated). CHECKSUM TABLE compares every other table's rows.
on_purpose=$(cat "$p/cloud/isolate-state.json" scripts/demo/rules.json | grep -o '"table": *"[^"]*"' | cut -d'"' -f4 | sort -u)
tables=$(mariadb -uroot -N -e "SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema = '$dst2' AND table_type = 'BASE TABLE'")
checksums() { mariadb -uroot -N "$1" -e "CHECKSUM TABLE $tables" | awk '{sub(/^[^.]*\./, "", $1); print $1, $2}' | LC_ALL=C sort; }
equal=0 bad=0
while read -r table a b; do
  if [ "$a" = "$b" ]; then
    equal=$((equal + 1))
  elif grep -qx "$table" <<<"$on_purpose"; then
    echo "  differs on purpose (adjust or restore): $table"
  else
    echo "  DIFFERS: $table (source checksum $a, cloud $b)"
    bad=$((bad + 1))
  fi
done < <(LC_ALL=C join <(checksums "$src") <(checksums "$dst2"))
echo "  equal: $equal of $(tr ',' '\n' <<<"$tables" | wc -l) tables"
live() { mariadb -uroot -N "$1" -e "SELECT COUNT(*) FROM qu_la_messages WHERE messageid LIKE 'live%'"; }
echo "  the help desk's live replies: $(live "$src") in the source, $(live "$dst2") in the cloud"
[ "$bad" = 0 ] || { echo "demo: $bad table(s) of $dst2 differ from $src" >&2; exit 1; }

step "what each phase moved, and how long the help desk was off"
go run ./scripts/demo/summary \
  "one-shot run" "$out/source/lamigrate-source.journal.json" "$out/cloud/lamigrate-cloud.journal.json" \
  "pre-copy 1" "$p/source/lamigrate-source-copy-1.journal.json" "$p/cloud/lamigrate-cloud-copy-1.journal.json" \
  "pre-copy 2" "$p/source/lamigrate-source-copy-2.journal.json" "$p/cloud/lamigrate-cloud-copy-2.journal.json" \
  "cutover" "$p/source/lamigrate-source-cutover.journal.json" "$p/cloud/lamigrate-cloud-cutover.journal.json"

step "the source installation stays isolated (as in a real migration); undo it with:"
echo "  $bin restore --dsn 'root@unix($sock)/$src' --state $p/source/isolate-state.json"
echo
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }
echo "demo finished in $(secs "$started" "$EPOCHREALTIME") (part 2: $(secs "$part1_ended" "$EPOCHREALTIME")): files in $out,"
echo "databases $src, $dst (part 1) and $dst2 (part 2)"
