#!/usr/bin/env bash
# The runner benchmark: tidemark's bundled CLI against the psql floors, a bare node+pg connect, and the peer
# tools (node-pg-migrate, postgrator, knex, dbmate), on the same generated migrations, in one run.
# It drives the shared harness (../shared/bench/run-peers.sh; see its README for what each phase measures).
#
#   npm i --prefix /tmp/peers node-pg-migrate postgrator pg knex dbmate   # peers, once, outside the repo
#   apt-get install -y hyperfine time                                     # timer and peak RSS
#   bench/run-runner.sh                                                   # N = 100 and 1000, every tool
#   NS=1000 RUNS=3 TOOLS="psql-session node-pg-bare tidemark" bench/run-runner.sh
#
# Connection: libpq variables (PGHOST 127.0.0.1, PGPORT 5432, PGUSER = you; a superuser: it creates databases).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
harness=${BENCH_HARNESS:-$here/../shared/bench}
if [ ! -x "$harness/run-peers.sh" ]; then
  echo "run-runner: the shared harness is not at $harness (set BENCH_HARNESS)" >&2
  exit 2
fi
(cd "$here" && npm run --silent build)
export TIDEMARK_CLI="$here/bin/migrate.js"
exec "$harness/run-peers.sh" "$@"
