#!/usr/bin/env bash
# The scale-out tests start throwaway Redis and PostgreSQL servers from the Debian packages
# redis-server and postgresql. Install them when they are missing and we may (root with apt-get,
# as on CI); otherwise say how, and let the tests skip (or fail under CI=true).
set -euo pipefail
if command -v redis-server >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing redis-server and postgresql (Debian packages) for the scale-out tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        redis-server postgresql >/dev/null
else
    echo "note: redis-server/postgresql are missing and cannot be installed here (needs root" \
        "and apt-get); the scale-out tests will skip (and fail under CI=true)." >&2
fi
