#!/usr/bin/env bash
# The runner benchmark from a clone: builds dist/, then times, in one run, tidemark's no-op `up` and `status`
# against a bare node+pg connect and dbmate (installed from npm into a temporary folder), and `up`, `up` of tiny
# migrations and `down --all` against the one-session psql floor and dbmate, on N generated migrations: wall,
# CPU and peak RSS (/usr/bin/time). Needs node/npm, psql and a PostgreSQL superuser (libpq variables or
# BENCH_DATABASE_URL); see bench/runner-bench.mjs for the settings (N, RUNS, BENCH_CASES, BENCH_PEERS, BENCH_JSON).
#
#   bench/run-runner.sh                              # N=1000, 5 runs each, every case
#   N=100 RUNS=3 BENCH_CASES=noop bench/run-runner.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
npm run --silent build
exec node bench/runner-bench.mjs "$@"
