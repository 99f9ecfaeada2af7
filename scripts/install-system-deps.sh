#!/usr/bin/env bash
# Installs the machine packages the platform needs: the PostgreSQL server (for the
# embedded cluster), npm (installs the Data Docs pages' assets), Prometheus (and
# promtool, which checks its rules in the tests), Redis (the broker of Airflow's
# Celery executor, CREDITOPS_AIRFLOW_EXECUTOR=celery), and with --browser
# Chromium too (for the browser test; Playwright cannot download its own browser
# here). Does nothing when they are there.
set -euo pipefail

have_postgres_server() {
  command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

missing=()
have_postgres_server || missing+=(postgresql)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${1:-}" = "--browser" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# `creditops run` starts its own Prometheus (port 9090) and Redis (6379): the system
# services Debian starts on install would hold the ports.
for service in prometheus redis-server; do
  if [[ " ${missing[*]} " == *" $service "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
    echo "Debian's $service system service was stopped and disabled; the platform runs its own"
  fi
done
