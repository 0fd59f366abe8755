# Sourced at the top of every bench script: runs the whole script under the
# benchmark lock, so only one benchmark measures at a time on the shared
# cores. A caller that already holds the lock
# (`flock /tmp/lamigrate-bench.lock bench/x.sh`) is detected, because taking
# it again would wait for ourselves forever.
bench_lock=/tmp/lamigrate-bench.lock
bench_lock_held_by_caller() {
  local pid=$PPID
  while ((pid > 1)); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^flock .*$bench_lock"; then
      return 0
    fi
    pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || echo 1)
  done
  return 1
}
if [[ "${LAMIGRATE_BENCH_LOCKED:-}" != 1 ]] && ! bench_lock_held_by_caller; then
  exec env LAMIGRATE_BENCH_LOCKED=1 flock "$bench_lock" "$0" "$@"
fi
export LAMIGRATE_BENCH_LOCKED=1
