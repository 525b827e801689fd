#!/usr/bin/env bash
# Build the images docker-compose.yml runs, with no container registry:
#
#   pitwall-base:bookworm     Debian bookworm (minbase) made by debootstrap from
#                             the machine's Debian mirror, imported with docker import
#   pitwall:local             FROM the base: pitwall-server, pitwall-worker, starter,
#                             pitwall-certs (built here with the flags of every other
#                             build of the clone, so they reuse what the tests and
#                             the demo compiled: a cold first run compiles
#                             Pitwall's dependencies once, not twice)
#   pitwall-agent:local       FROM the base: the agent (scripts need a shell)
#   pitwall-postgres:local    FROM the base: Debian's postgresql-15
#   pitwall-prometheus:local  FROM the base: Debian's prometheus
#   pitwall-temporal:local    FROM the base: deploy/temporal (go.temporal.io/server),
#                             the binary the tests and the demo run in its dev
#                             mode (.pitwall/bin/pitwall-temporal, built once)
#   pitwall-temporal-ui:local FROM the base: Temporal's UI server (its Go module
#                             embeds the built UI), the clone's usual flags too
#
# Usage: deploy/images/build.sh [base|prepare], with DOCKER_HOST as for docker.
# "base" makes the Debian tarball only (no Go: go tool task test runs it
# while the first go build compiles).
# "prepare" does what needs no Docker engine: the Debian tarball (kept in
# PITWALL_COMPOSE_CACHE, default /var/tmp/pitwall-compose, so that only the
# first run pays for debootstrap; needs root) and the Go binaries (in
# $PITWALL_COMPOSE_CACHE/context). Without it, it also builds the images;
# Go's caches and the engine's build cache make a second run quick.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${PITWALL_COMPOSE_CACHE:-/var/tmp/pitwall-compose}
version=${PITWALL_VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
mkdir -p "$cache"

step() { printf 'build-images: %s (%ss)\n' "$1" "$SECONDS"; }

# The Debian mirror this machine uses (deb822 sources or a classic list).
mirror() {
	local uri
	uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	echo "${uri:-http://deb.debian.org/debian}"
}

ctx=$cache/context
tarball=$cache/bookworm-minbase.tar

base_tarball() {
	[ -s "$tarball" ] && return
	command -v debootstrap >/dev/null || { echo "build-images: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
	step "debootstrap bookworm from $(mirror)"
	local rootfs
	rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
	debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
	tar -C "$rootfs" -c . >"$tarball.tmp"
	mv "$tarball.tmp" "$tarball"
	rm -rf "$rootfs"
}

# binaries leaves what is in $ctx/*/bin: go build -o skips the link when the
# file there is already what it would make (the Temporal server's takes a
# minute).
binaries() {
	for img in pitwall agent postgres prometheus temporal temporal-ui; do
		find "$ctx/$img" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} + 2>/dev/null || true
		mkdir -p "$ctx/$img/bin"
		cp -r "deploy/images/$img/." "$ctx/$img/"
	done
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/pitwall/"
	cp deploy/temporal/config.yaml "$ctx/temporal/"
	step "go build Pitwall"
	# The compiler and the linker without garbage collection, as
	# Taskfile.yml's NOGC (less CPU, the same build cache keys).
	local nogc="env GOGC=off"
	local ld="-s -w -X github.com/pitwall/pitwall/internal/config.Version=$version"
	go build -toolexec "$nogc" -ldflags "$ld" -o "$ctx/pitwall/bin/pitwall-server" ./ui
	go build -toolexec "$nogc" -ldflags "$ld" -o "$ctx/pitwall/bin/pitwall-worker" ./worker
	go build -toolexec "$nogc" -ldflags "-s -w" -o "$ctx/pitwall/bin/starter" ./starter
	go build -toolexec "$nogc" -ldflags "-s -w" -o "$ctx/pitwall/bin/pitwall-certs" ./cmd/pitwall-certs
	cp "$ctx/pitwall/bin/pitwall-worker" "$ctx/agent/bin/"
	go build -toolexec "$nogc" -ldflags "-s -w" -o "$ctx/agent/bin/pitwall-supervise" ./cmd/pitwall-supervise
	step "go build Temporal (deploy/temporal, into .pitwall/bin unless built) and its UI"
	go run -toolexec "$nogc" ./cmd/devstack --build-temporal-only --dir .pitwall
	cp .pitwall/bin/pitwall-temporal "$ctx/temporal/bin/pitwall-temporal"
	(cd deploy/temporal && go build -toolexec "$nogc" -ldflags "-s -w" -o "$ctx/temporal-ui/bin/temporal-ui-server" github.com/temporalio/ui-server/v2/cmd/server)
}

base_tarball
if [ "${1:-}" = base ]; then
	step "base tarball in $tarball"
	exit 0
fi
binaries
if [ "${1:-}" = prepare ]; then
	step "prepared $ctx"
	exit 0
fi

if ! docker image inspect pitwall-base:bookworm >/dev/null 2>&1; then
	step "import pitwall-base:bookworm"
	docker import "$tarball" pitwall-base:bookworm >/dev/null
fi
for img in pitwall agent postgres prometheus temporal temporal-ui; do
	name=pitwall-$img
	[ "$img" = pitwall ] && name=pitwall
	step "docker build $name:local"
	docker build -t "$name:local" "$ctx/$img" >"$cache/build-$img.log" 2>&1 ||
		{ tail -30 "$cache/build-$img.log" >&2; exit 1; }
done
# The images these replaced, so that the engine's data root does not grow run by run.
docker image prune -f >/dev/null
step "done"
