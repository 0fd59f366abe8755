#!/usr/bin/env bash
# Installs (Debian packages) and starts what lamigrate's tests, demo and
# benchmarks need, when it is missing: MariaDB server and client, mysqldump,
# mydumper/myloader, pigz, zstd, lz4, OpenSSH, cron (for a real crontab).
# Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mariadbd || need+=(mariadb-server)
have mariadb || need+=(mariadb-client)
have mysqldump || need+=(mariadb-client)
have mydumper || need+=(mydumper)
have pigz || need+=(pigz)
have zstd || need+=(zstd)
have lz4 || need+=(lz4)
have sshd || need+=(openssh-server)
have ssh-keygen || need+=(openssh-client)
have sftp || need+=(openssh-client)
have crontab || need+=(cron)
have go || { echo "setup: Go is not installed; install Go 1.26 first" >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# MariaDB on the Debian socket, root without a password (unless the caller
# points the tests elsewhere with LAMIGRATE_TEST_DSN).
if [ -z "${LAMIGRATE_TEST_DSN:-}" ] && ! mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
  echo "setup: starting MariaDB" >&2
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
  done
  mariadb -uroot -e 'SELECT 1' >/dev/null || { echo "setup: MariaDB did not start" >&2; exit 1; }
fi
