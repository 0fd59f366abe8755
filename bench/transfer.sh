#!/usr/bin/env bash
# Benchmark lamigrate push and pull against OpenSSH's scp and sftp, on a
# ~50 MB lamigrate archive, in one run over two links:
#   loopback  a real OpenSSH sshd started here on a spare 127.0.0.1 port
#             (throwaway host key, throwaway client key authorized for root)
#   100mbit   ../shared/wan/run-in-wan.sh (a network namespace whose
#             loopback tc tbf limits to BENCH_RATE, with its sshd on
#             127.0.0.1:2222)
# On each link, BENCH_ROUNDS rounds (default 3) of six transfers, in an order
# that rotates each round: lamigrate push, lamigrate pull, scp up, scp down,
# sftp put and sftp get (batch mode). Before each timed transfer the previous
# destination is removed and everything is written back (`sync`, untimed).
# After each, the transferred file's SHA-256 must equal the source's (and a
# lamigrate transfer's manifest must have arrived). It prints, per link, every
# time, the medians, MB/s, and the ratios push/scp-up, pull/scp-down,
# push/sftp-put, pull/sftp-get (of the medians, and each round's). Then, over
# 100mbit, a push killed with -9 at ~50% is resumed, counting what went over
# the link.
#
# Host keys are checked: the OpenSSH clients get -F /dev/null,
# StrictHostKeyChecking=yes and a known_hosts file made from the server's
# host key; lamigrate gets the same file through --known-hosts.
#
#   bench/transfer.sh        (BENCH_SIZE=256MiB BENCH_ROUNDS=3 BENCH_RATE=100mbit)
#
# The archive: `lamigrate dump` (gzip, default ignores) of a database that
# lagen generates with BENCH_SIZE, seed 1 (256MiB gives a 50.4 MiB archive);
# the database bench_transfer_src is dropped afterwards. The archive is kept
# in /tmp/lamigrate-bench-transfer-archive/<size>-dv<lagen data version>/ and
# reused by later runs (after `lamigrate verify`); delete that folder to make
# it again. Needs root (sshd, network namespace), MariaDB on
# /run/mysqld/mysqld.sock, OpenSSH (scripts/setup.sh installs it).
# Everything else lives in a temp dir that is removed afterwards.
set -euo pipefail
[[ -n "${BENCH_TRACE:-}" ]] && set -x
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."
SIZE=${BENCH_SIZE:-256MiB}
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-100mbit}
SOCK=/run/mysqld/mysqld.sock
DB=bench_transfer_src
CACHE=/tmp/lamigrate-bench-transfer-archive
WAN=$(cd ../shared/wan && pwd)/run-in-wan.sh
[[ -x "$WAN" ]] || { echo "transfer.sh: no $WAN (the 100mbit link)" >&2; exit 1; }
scripts/setup.sh
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
W=$(mktemp -d /tmp/lamigrate-bench-transfer.XXXXXX)
SSHD_PID=
cleanup() {
	[[ -n "$SSHD_PID" ]] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

go build -o "$W/lamigrate" ./cmd/lamigrate
go build -o "$W/lagen" ./internal/lagen/cmd/lagen

# The archive, made once per size and generator data version.
KEY="$SIZE-dv$("$W/lagen" --data-version)"
A=$CACHE/$KEY
if [[ -f "$A/x.sql.gz.manifest.json" ]] && "$W/lamigrate" -q verify "$A/x.sql.gz" >/dev/null 2>&1; then
	echo "reusing the archive in $A" >&2
else
	echo "making the archive: lagen $SIZE into $DB, lamigrate dump..." >&2
	rm -rf "$A" "$A.tmp"
	mkdir -p "$A.tmp"
	mariadb -S "$SOCK" -u root -e "DROP DATABASE IF EXISTS \`$DB\`"
	"$W/lagen" --dsn "root@unix($SOCK)/$DB" --size "$SIZE" --seed 1 --create >&2
	"$W/lamigrate" -q dump --dsn "root@unix($SOCK)/$DB" -o "$A.tmp/x.sql.gz" >/dev/null
	mariadb -S "$SOCK" -u root -e "DROP DATABASE \`$DB\`"
	rm -f "$A.tmp/x.sql.gz.rows.zst"
	mv "$A.tmp" "$A"
fi
ARCHIVE=$A/x.sql.gz

# The loopback link: sshd with its own host key, a client key authorized
# for root, a spare port.
mkdir -p "$W/lo" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$W/lo/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$W/lo/id_ed25519"
cp "$W/lo/id_ed25519.pub" "$W/lo/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/lo/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $W/lo/host_ed25519
AuthorizedKeysFile $W/lo/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
"$SSHD" -D -e -f "$W/lo/sshd_config" -p "$PORT" 2>>"$W/lo/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$W/lo/host_ed25519.pub")" >"$W/lo/known_hosts"

# measure.sh LINK PORT KEY KNOWN_HOSTS [resume]: the rounds on one link;
# appends "LINK TOOL ROUND SECONDS" lines to $W/times. Run as is for
# loopback, inside run-in-wan.sh for the limited link.
cat >"$W/measure.sh" <<'INNER'
set -euo pipefail
LINK=$1 PORT=$2 KEY=$3 KH=$4 RESUME=${5:-}
L=$W/lamigrate
R=$W/$LINK/remote # the server's side
C=$W/$LINK/local  # this machine's side
mkdir -p "$R/src" "$R/push" "$R/scp" "$R/sftp" "$C/pull" "$C/scp" "$C/sftp"
cp "$ARCHIVE" "$ARCHIVE.manifest.json" "$R/src/" # what pull, scp down and sftp get fetch
URL=sftp://root@127.0.0.1:$PORT
SSH=(--identity "$KEY" --known-hosts "$KH")
OSSH=(-F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
	-o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null)
echo "put $ARCHIVE $R/sftp/x.sql.gz" >"$W/$LINK/put.batch"
echo "get $R/src/x.sql.gz $C/sftp/x.sql.gz" >"$W/$LINK/get.batch"
SHA=$(sha256sum <"$ARCHIVE" | cut -d' ' -f1)
now() { date +%s.%N; }

# The transfers: each names the folder it writes into and the file there.
run_push() { "$L" -q push --no-state "$ARCHIVE" "$URL$R/push/" "${SSH[@]}" >/dev/null; }
run_pull() { "$L" -q pull --no-state "$URL$R/src/x.sql.gz" "$C/pull/" "${SSH[@]}" >/dev/null; }
run_scp_up() { scp -q -P "$PORT" "${OSSH[@]}" "$ARCHIVE" "root@127.0.0.1:$R/scp/x.sql.gz"; }
run_scp_down() { scp -q -P "$PORT" "${OSSH[@]}" "root@127.0.0.1:$R/src/x.sql.gz" "$C/scp/x.sql.gz"; }
run_sftp_put() { sftp -q -b "$W/$LINK/put.batch" -P "$PORT" "${OSSH[@]}" root@127.0.0.1 >/dev/null; }
run_sftp_get() { sftp -q -b "$W/$LINK/get.batch" -P "$PORT" "${OSSH[@]}" root@127.0.0.1 >/dev/null; }
declare -A DEST=([push]=$R/push [pull]=$C/pull [scp_up]=$R/scp [scp_down]=$C/scp [sftp_put]=$R/sftp [sftp_get]=$C/sftp)
TOOLS=(push pull scp_up scp_down sftp_put sftp_get)

one() { # one TOOL ROUND
	local tool=$1 round=$2 d=${DEST[$1]} t0 t1 got
	find "$d" -mindepth 1 -delete
	sync
	t0=$(now)
	"run_$tool" || { echo "transfer.sh: $LINK $tool (round $round) failed" >&2; exit 1; }
	t1=$(now)
	got=$(sha256sum <"$d/x.sql.gz" | cut -d' ' -f1)
	[[ "$got" == "$SHA" ]] || { echo "transfer.sh: $LINK $tool (round $round): SHA-256 $got, the source's is $SHA" >&2; exit 1; }
	if [[ $tool == push || $tool == pull ]]; then
		cmp -s "$d/x.sql.gz.manifest.json" "$ARCHIVE.manifest.json" || { echo "transfer.sh: $LINK $tool (round $round): the manifest did not arrive whole" >&2; exit 1; }
	fi
	echo "$LINK $tool $round $(echo "$t1 - $t0" | bc)" >>"$W/times"
}
n=${#TOOLS[@]}
for ((round = 1; round <= ROUNDS; round++)); do
	for ((i = 0; i < n; i++)); do
		one "${TOOLS[(i + 2 * (round - 1)) % n]}" "$round" # each round starts two tools later
	done
done
for d in "${DEST[@]}"; do find "$d" -mindepth 1 -delete; done

[[ -n "$RESUME" ]] || exit 0
# Resume: kill -9 a push once half the partial file is there, then push again.
SIZE=$(stat -c %s "$ARCHIVE")
PARTIAL=$R/push/.x.sql.gz.lamigrate-partial
sync
"$L" -q push --no-state "$ARCHIVE" "$URL$R/push/" "${SSH[@]}" >/dev/null 2>"$W/$LINK/killed.err" &
PUSH_PID=$!
while kill -0 "$PUSH_PID" 2>/dev/null; do
	have=$(stat -c %s "$PARTIAL" 2>/dev/null || echo 0)
	((have * 2 >= SIZE)) && break
	sleep 0.02
done
kill -9 "$PUSH_PID" 2>/dev/null || true
wait "$PUSH_PID" 2>/dev/null || true
[[ -f "$PARTIAL" ]] || { echo "transfer.sh: no partial file after the kill; push said:" >&2; cat "$W/$LINK/killed.err" >&2; exit 1; }
KILLED_AT=-1 # sshd writes what it still had: wait until the partial file stops growing
while :; do
	have=$(stat -c %s "$PARTIAL")
	((have == KILLED_AT)) && break
	KILLED_AT=$have
	sleep 1
done
lo_bytes() { awk '$1 == "lo:" {print $10}' /proc/net/dev; } # transmitted on this namespace's lo
LO0=$(lo_bytes)
t0=$(now)
"$L" --json push --no-state "$ARCHIVE" "$URL$R/push/" "${SSH[@]}" >"$W/$LINK/resume.json" 2>/dev/null
t1=$(now)
LO1=$(lo_bytes)
[[ "$(sha256sum <"$R/push/x.sql.gz" | cut -d' ' -f1)" == "$SHA" ]] || { echo "transfer.sh: the resumed file differs" >&2; exit 1; }
cat >"$W/resume" <<EOF
SIZE=$SIZE
KILLED_AT=$KILLED_AT
RESUMED_AT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resumed_at"])' "$W/$LINK/resume.json")
SENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("sent", 0))' "$W/$LINK/resume.json")
VERIFIED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verified"])' "$W/$LINK/resume.json")
WIRE=$((LO1 - LO0))
SECS=$(echo "$t1 - $t0" | bc)
EOF
INNER

export W ARCHIVE ROUNDS
: >"$W/times"
echo "loopback: $ROUNDS rounds..." >&2
bash "$W/measure.sh" loopback "$PORT" "$W/lo/id_ed25519" "$W/lo/known_hosts"
echo "$RATE: $ROUNDS rounds, then the resume..." >&2
"$WAN" "$RATE" "$W/wan" bash "$W/measure.sh" "$RATE" 2222 "$W/wan/id_ed25519" "$W/wan/known_hosts" resume
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

BYTES=$(stat -c %s "$ARCHIVE")
printf '\narchive: %s (%d bytes, %.1f MiB; lagen %s, seed 1, lamigrate dump gzip)\n' "$ARCHIVE" "$BYTES" "$(echo "$BYTES / 1048576" | bc -l)" "$SIZE"
printf '%s; rounds: %d, the order rotating; load average before %s, after %s\n' "$(ssh -V 2>&1)" "$ROUNDS" "$LOAD0" "$LOAD1"
python3 - "$W/times" "$BYTES" "$ROUNDS" <<'PY'
import collections, statistics, sys
times, size, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = collections.defaultdict(dict)
links = []
for line in open(times):
    link, tool, rnd, secs = line.split()
    if link not in links:
        links.append(link)
    t[(link, tool)][int(rnd)] = float(secs)
names = {"push": "lamigrate push", "pull": "lamigrate pull", "scp_up": "scp (up)",
         "scp_down": "scp (down)", "sftp_put": "sftp put", "sftp_get": "sftp get"}
for link in links:
    print(f"\n{link:<16}" + "".join(f"{'run ' + str(r):>8}" for r in range(1, rounds + 1)) + f"{'median':>9}{'MB/s':>8}")
    med = {}
    for tool, name in names.items():
        row = t[(link, tool)]
        med[tool] = statistics.median(row.values())
        print(f"{name:<16}" + "".join(f"{row[r]:8.2f}" for r in range(1, rounds + 1)) + f"{med[tool]:9.2f}{size / med[tool] / 1e6:8.1f}")
    for a, b in (("push", "scp_up"), ("pull", "scp_down"), ("push", "sftp_put"), ("pull", "sftp_get")):
        each = " ".join(f"{t[(link, a)][r] / t[(link, b)][r]:.2f}" for r in range(1, rounds + 1))
        print(f"  {names[a]} / {names[b]}: {med[a] / med[b]:.2f} (medians; each round: {each})")
PY
echo "(lamigrate's times include checking the SHA-256 against the manifest (push: on the server), an fsync, the"
echo " rename into place and the manifest; scp and sftp do none of that. scp of OpenSSH 9 speaks the SFTP protocol.)"
. "$W/resume"
printf '\n%-40s %14s\n' "$RATE: resume after kill -9" "bytes"
printf '%-40s %14d\n' "file size" "$SIZE"
printf '%-40s %14d\n' "partial when killed" "$KILLED_AT"
printf '%-40s %14d\n' "resumed at" "$RESUMED_AT"
printf '%-40s %14d\n' "sent by the resumed push" "$SENT"
printf '%-40s %14d\n' "bytes over the link during the resume" "$WIRE"
printf '%-40s %14d\n' "missing before the resume" "$((SIZE - KILLED_AT))"
printf '%-40s %14.2f\n' "resumed push, seconds" "$SECS"
printf '%-40s %14s\n' "how push checked the server's copy" "$VERIFIED"
