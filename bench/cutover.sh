#!/usr/bin/env bash
# Benchmark the cutover over a WAN link made by ../shared/wan/run-in-wan.sh
# (tc tbf on a private loopback, sshd on 127.0.0.1:2222), in one run, on a
# lagen database of SIZE after a pre-copy and a change of PCT% of the rows
# of the big tables (updates, deletes, inserts of conversations, messages
# and contacts; new attachments):
#   (1) seed: mysqldump --single-transaction | gzip -9, gzip -t, scp,
#       gunzip | mariadb into an empty database;
#   (2) full: lamigrate dump, push, import into an empty database,
#       verify --dsn;
#   (3) delta: lamigrate dump --since BASE (with the proof that nothing
#       wrote), push (the delta and its changes file), import into the
#       database the pre-copy loaded, verify --dsn.
# Each is timed per step; the pre-copy (dump, push, import of the base) is
# timed too but is not part of the outage. After (3) the cloud database must
# equal the source (verify --dsn says so, and (2) and (3) are compared
# table by table).
#
#   bench/cutover.sh [SIZE] [PCT]   (default 1GiB 1; BENCH_RATE=100mbit)
#
# Needs root (network namespace, sshd), MariaDB on /run/mysqld/mysqld.sock.
# It generates bench_cut_src with lagen and loads bench_cut_seed,
# bench_cut_full and bench_cut_delta; all are dropped at the end.
set -euo pipefail
[[ -n "${BENCH_TRACE:-}" ]] && set -x
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."
SIZE=${1:-1GiB}
PCT=${2:-1}
RATE=${BENCH_RATE:-100mbit}
DB=bench_cut_src
SOCK=/run/mysqld/mysqld.sock
WAN=$(cd ../shared/wan && pwd)/run-in-wan.sh
[[ -x "$WAN" ]] || { echo "cutover.sh: no $WAN" >&2; exit 1; }
command -v mysqldump >/dev/null || scripts/setup.sh >&2
W=$(mktemp -d /tmp/lamigrate-bench-cutover.XXXXXX)
sqlq() { mariadb -S "$SOCK" -u root -e "$1"; }
cleanup() {
	for d in "$DB" bench_cut_seed bench_cut_full bench_cut_delta; do
		sqlq "DROP DATABASE IF EXISTS \`$d\`" || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/lamigrate" ./cmd/lamigrate
echo "cutover.sh: generating $SIZE in $DB..." >&2
go run ./internal/lagen/cmd/lagen --dsn "root@unix($SOCK)/$DB" --size "$SIZE" --create >&2
for d in bench_cut_seed bench_cut_full bench_cut_delta; do
	sqlq "DROP DATABASE IF EXISTS \`$d\`; CREATE DATABASE \`$d\`"
done
mkdir -p "$W/customer" "$W/cloud/base" "$W/cloud/full" "$W/cloud/delta" "$W/cloud/seed"

# The changes, as a day of a help desk: PCT% of the rows of the big tables,
# half updated, a quarter deleted, a quarter new (new random-looking keys),
# and new attachments (files and their contents).
FR=$(echo "scale=6; $PCT / 100" | bc)
cat >"$W/changes.sql" <<EOF
SET @f = $FR;
UPDATE qu_la_messages SET rstatus = IF(rstatus = 'D', 'R', 'D'), message = CONCAT(COALESCE(message, ''), ' (edited)') WHERE RAND(11) < @f / 2;
DELETE FROM qu_la_messages WHERE RAND(12) < @f / 4;
INSERT IGNORE INTO qu_la_messages SELECT CONCAT('~', SUBSTR(MD5(messageid), 1, 7)), messagegroupid, rtype, rstatus, format, userid, fileid, NOW(), message FROM qu_la_messages WHERE RAND(13) < @f / 4;
UPDATE qu_la_conversations SET rstatus = IF(rstatus = 'C', 'R', 'C'), datechanged = NOW() WHERE RAND(21) < @f / 2;
DELETE FROM qu_la_conversations WHERE RAND(22) < @f / 4;
UPDATE qu_la_contacts SET note = CONCAT(COALESCE(note, ''), ' called back'), datechanged = NOW() WHERE RAND(31) < @f / 2;
DELETE FROM qu_la_contacts WHERE RAND(32) < @f / 4;
INSERT IGNORE INTO qu_g_files SELECT CONCAT('~', SUBSTR(MD5(fileid), 1, 7)), filename, filesize, filetype, rtype, downloads, referenced, path, NOW() FROM qu_g_files WHERE RAND(41) < @f;
INSERT IGNORE INTO qu_g_filecontents SELECT CONCAT('~', SUBSTR(MD5(fileid), 1, 7)), contentid, content FROM qu_g_filecontents WHERE RAND(41) < @f;
UPDATE qu_g_files SET downloads = downloads + 1 WHERE RAND(42) < @f;
EOF

cat >"$W/inner.sh" <<'INNER'
set -euo pipefail
L="$W/lamigrate -q"
DSN="root@unix($SOCK)"
SSHO=(-i "$WAN_DIR/id_ed25519" -o "UserKnownHostsFile=$WAN_DIR/known_hosts" -o BatchMode=yes)
KEYS=(--identity "$WAN_DIR/id_ed25519" --known-hosts "$WAN_DIR/known_hosts")
URL=sftp://root@127.0.0.1:2222$W/cloud
now() { date +%s.%N; }
T=$W/times
: >"$T"
# step NAME CMD...: runs CMD and records its seconds as NAME.
step() {
	local name=$1 t0
	shift
	sync
	t0=$(now)
	"$@" >>"$W/steps.log"
	echo "$name=$(echo "$(now) - $t0" | bc)" >>"$T"
}

# The pre-copy (the help desk stays live): base dump, push, import.
step pre_dump $L dump --dsn "$DSN/$DB" -o "$W/customer/base.sql.zst"
step pre_push $L push "$W/customer/base.sql.zst" "$URL/base/" "${KEYS[@]}"
step pre_import $L import --dsn "$DSN/bench_cut_delta" "$W/cloud/base/base.sql.zst"

mariadb -S "$SOCK" -u root "$DB" <"$W/changes.sql"

# (1) the seed procedure.
step seed_dump sh -c "mysqldump -S '$SOCK' -u root --single-transaction --quick '$DB' | gzip -9 >'$W/customer/seed.sql.gz'"
step seed_test gzip -t "$W/customer/seed.sql.gz"
step seed_scp scp -q -P 2222 "${SSHO[@]}" "$W/customer/seed.sql.gz" "root@127.0.0.1:$W/cloud/seed/"
step seed_load sh -c "gunzip <'$W/cloud/seed/seed.sql.gz' | mariadb -S '$SOCK' -u root bench_cut_seed"
rm -f "$W/customer/seed.sql.gz" "$W/cloud/seed/seed.sql.gz"

# (2) our full cutover.
step full_dump $L dump --dsn "$DSN/$DB" -o "$W/customer/full.sql.zst"
step full_push $L push "$W/customer/full.sql.zst" "$URL/full/" "${KEYS[@]}"
step full_import $L import --dsn "$DSN/bench_cut_full" "$W/cloud/full/full.sql.zst"
step full_verify $L verify "$W/cloud/full/full.sql.zst" --dsn "$DSN/bench_cut_full"

# (3) the delta cutover.
step delta_dump $L dump --dsn "$DSN/$DB" -o "$W/customer/delta.sql.zst" --since "$W/customer/base.sql.zst.manifest.json"
step delta_push $L push "$W/customer/delta.sql.zst" "$URL/delta/" "${KEYS[@]}"
step delta_import $L import --dsn "$DSN/bench_cut_delta" "$W/cloud/delta/delta.sql.zst"
step delta_verify $L verify "$W/cloud/delta/delta.sql.zst" --dsn "$DSN/bench_cut_delta"

echo "base_size=$(stat -c %s "$W/customer/base.sql.zst")" >>"$T"
echo "delta_size=$(stat -c %s "$W/customer/delta.sql.zst")" >>"$T"
echo "changes_size=$(stat -c %s "$W/customer/delta.sql.zst.changes.zst")" >>"$T"
# The changed rows alone (the delta's REPLACE and DELETE statements),
# compressed the same way: what the delta cannot be smaller than.
echo "rows_only_size=$(zstd -dc "$W/customer/delta.sql.zst" | grep -aE '^(REPLACE|DELETE) ' | zstd -1 -T0 -c | wc -c)" >>"$T"
$L --json dump --dsn "$DSN/$DB" -o "$W/customer/again.sql.zst" --since "$W/customer/base.sql.zst.manifest.json" --live >"$W/delta.json"
INNER
W=$W SOCK=$SOCK DB=$DB "$WAN" "$RATE" "$W/wan" bash "$W/inner.sh"
. "$W/times"

# The delta's database equals the full cutover's, table by table.
for t in $(mariadb -S "$SOCK" -u root -N -e "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench_cut_full' AND TABLE_TYPE = 'BASE TABLE'"); do
	a=$(mariadb -S "$SOCK" -u root -N -e "CHECKSUM TABLE bench_cut_full.\`$t\`" | cut -f2)
	b=$(mariadb -S "$SOCK" -u root -N -e "CHECKSUM TABLE bench_cut_delta.\`$t\`" | cut -f2)
	[[ $a == "$b" ]] || { echo "cutover.sh: table $t differs between the full and the delta cutover" >&2; exit 1; }
done

sum() { echo "scale=2; $*" | bc; }
SEED=$(sum "$seed_dump + $seed_test + $seed_scp + $seed_load")
FULL=$(sum "$full_dump + $full_push + $full_import + $full_verify")
DELTA=$(sum "$delta_dump + $delta_push + $delta_import + $delta_verify")
PRE=$(sum "$pre_dump + $pre_push + $pre_import")
read -r ROWS DELETED REPLACED BLOCKS CHANGED < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(d["rows"], d["delta"]["deleted"], d["delta"]["replaced"], d["delta"]["blocks"], d["delta"]["changed_blocks"])' "$W/delta.json")
mib() { echo "scale=1; $1 / 1048576" | bc; }
printf 'database: %s generated by lagen, %s%% of the big tables changed after the pre-copy; link %s\n' "$SIZE" "$PCT" "$RATE"
printf 'pre-copy (live, not downtime): dump %.2f + push %.2f + import %.2f = %.2f s; base archive %s MiB\n' "$pre_dump" "$pre_push" "$pre_import" "$PRE" "$(mib "$base_size")"
printf '(1) seed  cutover: mysqldump|gzip -9 %6.2f  gzip -t %6.2f  scp %6.2f  gunzip|mariadb %6.2f  = %7.2f s\n' "$seed_dump" "$seed_test" "$seed_scp" "$seed_load" "$SEED"
printf '(2) full  cutover: dump %6.2f  push %6.2f  import %6.2f  verify %6.2f  = %7.2f s   (%.3f x seed)\n' "$full_dump" "$full_push" "$full_import" "$full_verify" "$FULL" "$(sum "$FULL / $SEED")"
printf '(3) delta cutover: dump --since %6.2f  push %6.2f  import %6.2f  verify %6.2f  = %7.2f s   (%.3f x seed; goal <= 0.05)\n' "$delta_dump" "$delta_push" "$delta_import" "$delta_verify" "$DELTA" "$(sum "$DELTA / $SEED")"
printf 'delta: %s MiB archive (%.2f x the changed rows alone, compressed: %s MiB) + %s MiB changes file; %s rows replaced or new, %s deleted of %s; %s of %s blocks of 1024 rows held a change\n' \
	"$(mib "$delta_size")" "$(sum "$delta_size / $rows_only_size")" "$(mib "$rows_only_size")" "$(mib "$changes_size")" "$REPLACED" "$DELETED" "$ROWS" "$CHANGED" "$BLOCKS"
