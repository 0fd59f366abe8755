#!/usr/bin/env bash
# Creates the benchmark database lamigrate_bench: a generated LiveAgent-like
# database of ${BENCH_SIZE:-1GiB} (footprint in information_schema), seed
# ${BENCH_SEED:-1}. Idempotent: a complete database of the same size, seed and
# generator data version is kept; an incomplete one (no lagen_meta row, which
# is written last) or one of another size, seed or data version is dropped and
# generated again. Safe to call from
# several benchmarks at once: the work runs under a lock.
set -euo pipefail
cd "$(dirname "$0")/.."

DB=${BENCH_DB:-lamigrate_bench}
SIZE=${BENCH_SIZE:-1GiB}
SEED=${BENCH_SEED:-1}
SOCK=${BENCH_SOCKET:-/run/mysqld/mysqld.sock}
LOCK=/tmp/lamigrate-benchdb.lock

exec 9>"$LOCK"
if ! flock -n 9; then
  echo "setup-db: waiting for another setup-db.sh ($LOCK)" >&2
  flock 9
fi
start=$(date +%s.%N)

scripts/setup.sh
sql() { mariadb -uroot --socket="$SOCK" -N -B "$@"; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/lagen" ./internal/lagen/cmd/lagen
DV=$("$bin/lagen" --data-version)

have=$(sql -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB' AND TABLE_NAME='lagen_meta'")
if [ "$have" = 1 ]; then
  meta=$(sql -e "SELECT CONCAT(size_arg, ' ', seed, ' ', data_version) FROM \`$DB\`.lagen_meta LIMIT 1" 2>/dev/null || true)
  if [ "$meta" = "$SIZE $SEED $DV" ]; then
    echo "setup-db: $DB already complete (size $SIZE, seed $SEED, data version $DV); nothing to do"
    sql -e "SELECT CONCAT('setup-db: ', COUNT(*), ' tables, ', ROUND(SUM(DATA_LENGTH+INDEX_LENGTH)/1048576), ' MiB on disk') FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB'"
    exit 0
  fi
  echo "setup-db: $DB was generated with '$meta'; regenerating with '$SIZE $SEED $DV' (size, seed, data version)" >&2
fi
if [ -n "$(sql -e "SHOW DATABASES LIKE '$DB'")" ]; then
  echo "setup-db: dropping incomplete or outdated $DB" >&2
  sql -e "DROP DATABASE \`$DB\`"
fi

gen_start=$(date +%s.%N)
summary=$("$bin/lagen" --dsn "root@unix($SOCK)/$DB" --size "$SIZE" --seed "$SEED" --create)
gen_end=$(date +%s.%N)
echo "$summary"

# Fresh statistics so information_schema sizes are meaningful.
for t in $(sql -e "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB'"); do
  sql -e "ANALYZE TABLE \`$DB\`.\`$t\`" >/dev/null
done

gen_secs=$(awk "BEGIN{printf \"%.1f\", $gen_end - $gen_start}")
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Written LAST: its presence means the database is complete.
sql "$DB" -e "CREATE TABLE lagen_meta (
  size_arg VARCHAR(20) NOT NULL, seed BIGINT UNSIGNED NOT NULL, data_version INT NOT NULL,
  generator VARCHAR(40) NOT NULL, seconds DECIMAL(10,1) NOT NULL,
  summary VARCHAR(255) NOT NULL, generated_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
INSERT INTO lagen_meta VALUES ('$SIZE', $SEED, $DV, 'lagen $rev', $gen_secs, '${summary//\'/}', NOW());"

sql -e "SELECT CONCAT('setup-db: ', TABLE_NAME, ' ', ROUND((DATA_LENGTH+INDEX_LENGTH)/1048576,1), ' MiB') FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB' AND DATA_LENGTH+INDEX_LENGTH > 8*1048576 ORDER BY DATA_LENGTH+INDEX_LENGTH DESC"
sql -e "SELECT CONCAT('setup-db: total ', COUNT(*), ' tables, ', ROUND(SUM(DATA_LENGTH+INDEX_LENGTH)/1048576), ' MiB on disk') FROM information_schema.TABLES WHERE TABLE_SCHEMA='$DB'"
end=$(date +%s.%N)
echo "setup-db: generation $gen_secs s, total $(awk "BEGIN{printf \"%.1f\", $end - $start}") s"
