#!/usr/bin/env bash
# Times test files of this tree against the same tests at an older commit, alternating, in one run (so load on
# the machine hits both alike). For the suite's before/after in issue 12's closing note.
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
#     bench/test-suite-compare.sh OLD_REF ROUNDS "old files..." "new files..."
# The old tree is `git archive OLD_REF` in a temporary folder, run with this tree's node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
old_ref="$1"; rounds="$2"; old_files="$3"; new_files="$4"
: "${TEST_DATABASE_URL:?set TEST_DATABASE_URL}"
old="$(mktemp -d /tmp/tidemark-old-XXXXXX)"
trap 'rm -rf "$old"' EXIT
git -C "$here" archive "$old_ref" | tar -x -C "$old"
ln -s "$here/node_modules" "$old/node_modules"
(cd "$old" && node scripts/build.mjs)
(cd "$here" && node scripts/build.mjs)
run() { # dir files -> seconds
  local start end
  start=$(date +%s.%N)
  (cd "$1" && npx vitest run $2 >/tmp/tidemark-compare.log 2>&1) || { echo "failed in $1" >&2; tail -20 /tmp/tidemark-compare.log >&2; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
for i in $(seq "$rounds"); do
  o=$(run "$old" "$old_files"); n=$(run "$here" "$new_files")
  printf 'round %s  old %6.1f s  new %6.1f s  ratio %.2f  (load %s)\n' "$i" "$o" "$n" "$(echo "$n / $o" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
done
