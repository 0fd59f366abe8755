#!/usr/bin/env bash
# Benchmark lamigrate push against OpenSSH's sftp put, over loopback, to a
# real sshd started here; then check that a push killed at ~50% resumes and
# sends only what was missing.
#
#   bench/transfer.sh [SIZE_MB]      (default 1024; BENCH_ROUNDS=4 rounds)
#
# Runs under flock /tmp/lamigrate-bench.lock (the cores are shared). Needs
# root (sshd), ssh-keygen, sftp. Everything lives in a temp dir that is
# removed afterwards.
set -euo pipefail
[[ -n "${BENCH_TRACE:-}" ]] && set -x
. "$(dirname "$0")/lock.sh"
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
W=$(mktemp -d /tmp/lamigrate-bench-transfer.XXXXXX)
SSHD_PID=
cleanup() {
	[[ -n "$SSHD_PID" ]] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

go build -o "$W/lamigrate" ./cmd/lamigrate

# Random-ish test data: 1 MiB blocks, alternately random and SQL-like text.
echo "generating ${SIZE_MB} MiB test file..." >&2
{
	for ((i = 0; i < SIZE_MB; i++)); do
		if ((i % 2)); then head -c 1048576 /dev/urandom; else (yes "INSERT INTO \`qu_la_messages\` VALUES ($i,'hello world','2024-01-01 00:00:00');" || true) | head -c 1048576; fi
	done
} >"$W/dump.bin"
SIZE=$(stat -c %s "$W/dump.bin")

# sshd with its own host key and authorized_keys on a free high port.
ssh-keygen -q -t ed25519 -N '' -f "$W/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$W/id_ed25519"
cp "$W/id_ed25519.pub" "$W/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $W/host_ed25519
AuthorizedKeysFile $W/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
mkdir -p /run/sshd
"$SSHD" -D -e -f "$W/sshd_config" -p "$PORT" 2>>"$W/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$W/host_ed25519.pub")" >"$W/known_hosts"
USER_NAME=$(id -un)
mkdir -p "$W/remote/ref" "$W/remote/ours"
SSHOPTS=(-i "$W/id_ed25519" -o UserKnownHostsFile="$W/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes)
ours() { "$W/lamigrate" -q "$@" --identity "$W/id_ed25519" --known-hosts "$W/known_hosts"; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

sync
declare -a REF OURS
ROUNDS=${BENCH_ROUNDS:-4} # even: as many rounds with each tool first
# Each timed transfer starts from the same state: the previous one's file
# removed and everything written back (`sync`, untimed), so neither pays for
# the other's page-cache writeback. The order alternates between rounds.
run_ref() {
	rm -f "$W/remote/ref/"* 2>/dev/null || true
	sync
	local t0 t1
	t0=$(now)
	sftp -q -b "$W/batch" -P "$PORT" "${SSHOPTS[@]}" "$USER_NAME@127.0.0.1" >/dev/null
	t1=$(now)
	REF[round]=$(elapsed "$t0" "$t1")
	cmp -s "$W/dump.bin" "$W/remote/ref/dump.bin" || { echo "sftp put file differs" >&2; exit 1; }
}
run_ours() {
	rm -f "$W/remote/ours/"* "$W/remote/ours/".??* 2>/dev/null || true
	sync
	local t0 t1
	t0=$(now)
	ours push "$W/dump.bin" "sftp://$USER_NAME@127.0.0.1:$PORT$W/remote/ours/" >/dev/null
	t1=$(now)
	OURS[round]=$(elapsed "$t0" "$t1")
	cmp -s "$W/dump.bin" "$W/remote/ours/dump.bin" || { echo "pushed file differs" >&2; exit 1; }
}
echo "put $W/dump.bin $W/remote/ref/dump.bin" >"$W/batch"
for ((round = 1; round <= ROUNDS; round++)); do
	if ((round % 2)); then run_ref; run_ours; else run_ours; run_ref; fi
done
rm -f "$W/remote/ref/"* 2>/dev/null || true

# Resume: kill -9 a push once half the partial file is there, then push again.
rm -f "$W/remote/ours/"* "$W/remote/ours/".??* 2>/dev/null || true
sync
PARTIAL="$W/remote/ours/.dump.bin.lamigrate-partial"
# (the binary itself in the background, not the function: kill must hit it)
"$W/lamigrate" -q push --identity "$W/id_ed25519" --known-hosts "$W/known_hosts" \
	"$W/dump.bin" "sftp://$USER_NAME@127.0.0.1:$PORT$W/remote/ours/" >/dev/null 2>"$W/killed.err" &
PUSH_PID=$!
while kill -0 "$PUSH_PID" 2>/dev/null; do
	have=$(stat -c %s "$PARTIAL" 2>/dev/null || echo 0)
	((have * 2 >= SIZE)) && break
	sleep 0.02
done
kill -9 "$PUSH_PID" 2>/dev/null || true
wait "$PUSH_PID" 2>/dev/null || true
# sshd keeps writing what was already in its buffers: wait until the
# partial file stops growing.
[[ -f "$PARTIAL" ]] || { echo "no partial file after the kill; push said:" >&2; cat "$W/killed.err" >&2; ls -la "$W/remote/ours" >&2; exit 1; }
KILLED_AT=-1
while :; do
	have=$(stat -c %s "$PARTIAL")
	((have == KILLED_AT)) && break
	KILLED_AT=$have
	sleep 1
done
lo_bytes() { awk '$1 == "lo:" {print $10}' /proc/net/dev; } # transmitted (lo counts each byte as rx and tx)
LO0=$(lo_bytes)
t0=$(now)
ours --json push "$W/dump.bin" "sftp://$USER_NAME@127.0.0.1:$PORT$W/remote/ours/" >"$W/resume.json"
t1=$(now)
LO1=$(lo_bytes)
cmp -s "$W/dump.bin" "$W/remote/ours/dump.bin" || { echo "resumed file differs" >&2; exit 1; }
RESUMED_AT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resumed_at"])' "$W/resume.json")
SENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$W/resume.json")

printf '\n%-34s %10s %10s\n' "push of $((SIZE / 1048576)) MiB over loopback" "seconds" "MiB/s"
for ((round = 1; round <= ROUNDS; round++)); do
	printf '%-34s %10.2f %10.0f\n' "openssh sftp put (round $round)" "${REF[round]}" "$(echo "$SIZE / 1048576 / ${REF[round]}" | bc -l)"
	printf '%-34s %10.2f %10.0f\n' "lamigrate push (round $round)" "${OURS[round]}" "$(echo "$SIZE / 1048576 / ${OURS[round]}" | bc -l)"
	printf '%-34s %10.2f\n' "  ratio sftp time / ours" "$(echo "${REF[round]} / ${OURS[round]}" | bc -l)"
done
echo "(lamigrate's time includes verifying the SHA-256 on the server and an fsync; sftp put does neither)"
echo "(odd rounds: sftp first; even rounds: lamigrate first; each after a sync)"
printf '\n%-34s %14s\n' "resume after kill -9" "bytes"
printf '%-34s %14d\n' "file size" "$SIZE"
printf '%-34s %14d\n' "partial when killed" "$KILLED_AT"
printf '%-34s %14d\n' "resumed at" "$RESUMED_AT"
printf '%-34s %14d\n' "sent by resumed push (ours)" "$SENT"
printf '%-34s %14d\n' "loopback bytes during resume" "$((LO1 - LO0))"
printf '%-34s %14d\n' "missing before resume" "$((SIZE - KILLED_AT))"
printf '%-34s %14.2f\n' "resumed push seconds" "$(elapsed "$t0" "$t1")"
