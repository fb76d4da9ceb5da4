#!/usr/bin/env bash
# The one command a new engineer runs: prepares the host, installs stack,
# makes the Debian base image (no registry needed) and brings up the
# quickstart stack (app, worker, PostgreSQL, Redis, RabbitMQ), then prints
# the app's URL. Run as root from anywhere; safe to run again.
#
#   APP_PORT=8080 scripts/quickstart.sh     # another host port for the app
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
compose=examples/quickstart/compose.yaml
port=${APP_PORT:-8000}

step() { printf '\n==> %s\n' "$*"; }

step "host packages (runc, iproute2, nftables, mmdebstrap …)"
./scripts/setup-host.sh

step "stack itself (npm ci, build)"
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/cli/main.js ] || [ -n "$(find src schemas -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  npm run --silent build
fi

step "base image debian:bookworm-slim"
./scripts/make-base-image.sh

step "the quickstart stack (the first run builds four images from Debian packages)"
started=$(date +%s)
APP_PORT=$port ./bin/stack -f "$compose" up -d --wait
echo "up in $(( $(date +%s) - started )) s"

./bin/stack -f "$compose" ps
cat <<EOM

The quickstart is up: http://localhost:$port/  (machine-readable: http://localhost:$port/status.json)

  ./bin/stack -f $compose logs -f               follow every service's output
  ./bin/stack -f $compose exec db psql -U stack a SQL prompt in the database
  ./bin/stack -f $compose down                  stop it (add -v to drop the database volume)
  ./bin/stack doctor                             when something does not work
EOM
