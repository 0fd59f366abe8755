#!/usr/bin/env bash
# Benchmark a streaming `lamigrate run` against the seed procedure and our
# steps one after another, over a WAN link made by ../shared/wan/run-in-wan.sh
# (tc tbf on a private loopback, sshd on 127.0.0.1:2222), in one run:
#   (1) seed: mysqldump --single-transaction | gzip -9, gzip -t, scp,
#       gunzip | mariadb;
#   (2) steps: run --config source.json (dump, verify, push), then
#       run --config cloud.json (verify, import, verify-db), one after the
#       other, "stream": false;
#   (3) streaming: both sides at once, "stream": true: the cloud side
#       (follow-import, verify-db) starts first and imports while the
#       source side (dump-to-transfer) dumps over SFTP.
# Times run from the first dump byte to the loaded (1) or verified (2, 3)
# cloud database: check, isolate, drain, cron and restore are skipped (the
# same in every mode). The wire time is the archive sent over the link
# alone (ssh … 'cat >/dev/null'), i.e. its size over the link's measured
# rate. The source side's peak disk is its output folder plus the files it
# holds open there deleted, sampled every 50 ms.
#
#   bench/stream-run.sh [SIZE]   (default 256MiB; BENCH_RATE=100mbit, BENCH_EXT=.sql.zst)
#
# Needs root (network namespace, sshd), MariaDB on /run/mysqld/mysqld.sock.
# It generates bench_srun_src with lagen, loads into bench_srun_seed,
# bench_srun_steps and bench_srun_stream, and drops them all at the end.
set -euo pipefail
[[ -n "${BENCH_TRACE:-}" ]] && set -x
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."
SIZE=${1:-256MiB}
RATE=${BENCH_RATE:-100mbit}
EXT=${BENCH_EXT:-.sql.zst}
DB=bench_srun_src
SOCK=/run/mysqld/mysqld.sock
WAN=$(cd ../shared/wan && pwd)/run-in-wan.sh
[[ -x "$WAN" ]] || { echo "no $WAN" >&2; exit 1; }
W=$(mktemp -d /tmp/lamigrate-bench-srun.XXXXXX)
sqlq() { mariadb -S "$SOCK" -u root -e "$1"; }
cleanup() {
	for d in "$DB" bench_srun_seed bench_srun_steps bench_srun_stream; do
		sqlq "DROP DATABASE IF EXISTS \`$d\`" || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/lamigrate" ./cmd/lamigrate
echo "generating $SIZE in $DB..." >&2
go run ./internal/lagen/cmd/lagen --dsn "root@unix($SOCK)/$DB" --size "$SIZE" --create
for d in bench_srun_seed bench_srun_steps bench_srun_stream; do
	sqlq "DROP DATABASE IF EXISTS \`$d\`; CREATE DATABASE \`$d\`"
done
mkdir -p "$W/customer/seed" "$W/customer/steps" "$W/customer/stream" "$W/customer/tmp" \
	"$W/cloud/seed" "$W/cloud/steps" "$W/cloud/stream" "$W/cloud/out-stream"

# Configs: check, isolate, drain and cron (source) and restore (cloud) are
# skipped in both modes: they are not what differs.
SKIPSRC='["check", "isolate", "drain", "cron"]'
cat >"$W/steps-source.json" <<EOF
{"side": "source", "connection": {"dsn": "root@unix($SOCK)/$DB"}, "output_dir": "$W/customer/steps",
 "archive": "dump$EXT", "skip": $SKIPSRC,
 "transfer": {"url": "sftp://root@127.0.0.1:2222$W/cloud/steps/", "identity": "@WANDIR@/id_ed25519", "known_hosts": "@WANDIR@/known_hosts"}}
EOF
cat >"$W/steps-cloud.json" <<EOF
{"side": "cloud", "connection": {"dsn": "root@unix($SOCK)/bench_srun_steps"}, "output_dir": "$W/cloud/steps",
 "archive": "dump$EXT", "skip": ["restore"]}
EOF
cat >"$W/stream-source.json" <<EOF
{"side": "source", "stream": true, "connection": {"dsn": "root@unix($SOCK)/$DB"}, "output_dir": "$W/customer/stream",
 "archive": "dump$EXT", "skip": $SKIPSRC,
 "transfer": {"url": "sftp://root@127.0.0.1:2222$W/cloud/stream/", "identity": "@WANDIR@/id_ed25519", "known_hosts": "@WANDIR@/known_hosts"}}
EOF
cat >"$W/stream-cloud.json" <<EOF
{"side": "cloud", "stream": true, "connection": {"dsn": "root@unix($SOCK)/bench_srun_stream"}, "output_dir": "$W/cloud/out-stream",
 "archive": "dump$EXT", "skip": ["restore"], "transfer": {"url": "$W/cloud/stream/"}}
EOF

cat >"$W/inner.sh" <<'INNER'
set -euo pipefail
L=$W/lamigrate
sed -i "s#@WANDIR@#$WAN_DIR#g" "$W"/*-source.json
SSHO=(-i "$WAN_DIR/id_ed25519" -o "UserKnownHostsFile=$WAN_DIR/known_hosts" -o BatchMode=yes)
now() { date +%s.%N; }
# peak PID DIR: the most disk DIR used while PID ran, in bytes: du of the
# folder plus the sizes of deleted files under it that PID holds open.
peak() {
	local pid=$1 dir=$2 max=0 d s f t
	while kill -0 "$pid" 2>/dev/null; do
		d=$(du -sb "$dir" 2>/dev/null | cut -f1)
		s=0
		for f in /proc/"$pid"/fd/* /proc/"$pid"/task/*/fd/*; do
			t=$(readlink "$f" 2>/dev/null) || continue
			[[ $t == "$dir"/*" (deleted)" ]] || continue
			s=$((s + $(stat -L -c %s "$f" 2>/dev/null || echo 0)))
		done
		((d + s > max)) && max=$((d + s))
		sleep 0.05
	done
	echo "$max"
}

# (1) the seed procedure.
sync
t0=$(now)
(
	mysqldump -S "$SOCK" -u root --single-transaction --quick "$DB" | gzip -9 >"$W/customer/seed/seed.sql.gz"
	gzip -t "$W/customer/seed/seed.sql.gz"
	scp -q -P 2222 "${SSHO[@]}" "$W/customer/seed/seed.sql.gz" "root@127.0.0.1:$W/cloud/seed/"
	gunzip <"$W/cloud/seed/seed.sql.gz" | mariadb -S "$SOCK" -u root bench_srun_seed
) &
pid=$!
P_seed=$(peak $pid "$W/customer")
wait $pid
T_seed=$(echo "$(now) - $t0" | bc)
S_seed=$(stat -c %s "$W/customer/seed/seed.sql.gz")
rm -f "$W/customer/seed/seed.sql.gz"

# (2) our steps, one side after the other.
sync
t0=$(now)
TMPDIR=$W/customer/tmp "$L" -q run --config "$W/steps-source.json" >>"$W/lamigrate.log" &
pid=$!
P_steps=$(peak $pid "$W/customer")
wait $pid
T_steps_src=$(echo "$(now) - $t0" | bc)
"$L" -q run --config "$W/steps-cloud.json" >>"$W/lamigrate.log"
T_steps=$(echo "$(now) - $t0" | bc)
rm -f "$W/customer/steps/dump$EXT"*

# (3) the streaming run: the cloud side first, then the source side.
sync
"$L" -q run --config "$W/stream-cloud.json" >>"$W/lamigrate-cloud.log" 2>&1 &
cpid=$!
sleep 0.5
t0=$(now)
TMPDIR=$W/customer/tmp "$L" -q run --config "$W/stream-source.json" >>"$W/lamigrate.log" &
pid=$!
P_stream=$(peak $pid "$W/customer")
wait $pid
T_stream_src=$(echo "$(now) - $t0" | bc)
wait $cpid || { cat "$W/lamigrate-cloud.log" >&2; exit 1; }
T_stream=$(echo "$(now) - $t0" | bc)

# The wire alone: the streamed archive over the link, nothing else.
t0=$(now)
ssh -p 2222 "${SSHO[@]}" root@127.0.0.1 'cat >/dev/null' <"$W/cloud/stream/dump$EXT"
T_wire=$(echo "$(now) - $t0" | bc)
cat >"$W/times" <<EOF
T_seed=$T_seed
S_seed=$S_seed
T_steps=$T_steps
T_steps_src=$T_steps_src
T_stream=$T_stream
T_stream_src=$T_stream_src
T_wire=$T_wire
P_seed=$P_seed
P_steps=$P_steps
P_stream=$P_stream
EOF
INNER
W=$W SOCK=$SOCK DB=$DB EXT=$EXT "$WAN" "$RATE" "$W/wan" bash "$W/inner.sh"
. "$W/times"

# The streamed archive is whole, nothing partial is left, none is on the
# source side, and the streamed database matches its manifest.
"$W/lamigrate" -q verify "$W/cloud/stream/dump$EXT" >/dev/null
ls -a "$W/cloud/stream" | grep -q partial && { echo "a partial file was left in $W/cloud/stream" >&2; exit 1; }
ls "$W/customer/stream" | grep -q "dump$EXT" && { echo "the streaming source side left an archive in its output folder" >&2; exit 1; }

ARCHIVE=$(stat -c %s "$W/cloud/stream/dump$EXT")
BITS=$(numfmt --from=si "$(echo "${RATE%bit}" | tr a-z A-Z)")
NOMINAL=$(echo "scale=2; $ARCHIVE * 8 / $BITS" | bc)
MEASURED=$(echo "scale=2; $ARCHIVE / $T_wire / 1000000" | bc)
mib() { echo "scale=1; $1 / 1048576" | bc; }
printf 'database: %s generated by lagen; archive %s MiB (%s); seed archive %s MiB (.sql.gz -9); link %s\n' \
	"$SIZE" "$(mib "$ARCHIVE")" "$EXT" "$(mib "$S_seed")" "$RATE"
printf '(1) seed (mysqldump|gzip -9, gzip -t, scp, gunzip|mariadb): %7.2f s   peak source disk %s MiB\n' "$T_seed" "$(mib "$P_seed")"
printf '(2) steps (run source; run cloud):                          %7.2f s   (source %.2f s)   peak source disk %s MiB\n' "$T_steps" "$T_steps_src" "$(mib "$P_steps")"
printf '(3) streaming run (both sides at once):                     %7.2f s   (source %.2f s)   peak source disk %s MiB\n' "$T_stream" "$T_stream_src" "$(mib "$P_stream")"
printf 'wire time of the archive: %.2f s measured (%s MB/s); %.2f s at the nominal %s\n' "$T_wire" "$MEASURED" "$NOMINAL" "$RATE"
printf 'streaming / wire: %.2f (goal <= 1.2)   peak source disk %s MiB (goal < 64)\n' "$(echo "scale=4; $T_stream / $T_wire" | bc)" "$(mib "$P_stream")"
