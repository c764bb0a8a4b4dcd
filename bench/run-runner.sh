#!/usr/bin/env bash
# The runner benchmark from a clone: builds dist/, then times tidemark's no-op `up` and `status` against a bare
# node+pg connect and dbmate (installed from npm into a temporary folder), on N generated migrations, in one run.
# Needs only node/npm and a PostgreSQL superuser (libpq variables or BENCH_DATABASE_URL); see
# bench/runner-bench.mjs for the settings (N, RUNS, BENCH_PEERS, BENCH_JSON).
#
#   bench/run-runner.sh                  # N=1000, 7 runs each
#   N=100 RUNS=5 bench/run-runner.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
npm run --silent build
exec node bench/runner-bench.mjs "$@"
