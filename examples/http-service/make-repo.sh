#!/bin/sh
# make-repo.sh DIR [--slower[=PERCENT]]
#
# Makes DIR a git repository holding this example at one commit on branch
# main, with the static binaries its FROM scratch Dockerfiles copy built and
# committed beside them (no registry is reachable, so no image can build Go).
# With --slower it adds a second commit whose /work handler does PERCENT
# (default 20) more work (workRounds × 1.2 by default): the regression the example is
# there to catch. It prints the commit hashes, oldest first.
set -eu
[ $# -ge 1 ] || { echo "usage: make-repo.sh DIR [--slower[=PERCENT]]" >&2; exit 2; }
dest=$1
slower=${2:-}
percent=
case "$slower" in
"") ;;
--slower) percent=20 ;;
--slower=*)
	percent=${slower#--slower=}
	case "$percent" in
	'' | *[!0-9]*) echo "make-repo.sh: --slower=$percent: not a whole percentage" >&2; exit 2 ;;
	esac
	[ "$percent" -ge 1 ] || { echo "make-repo.sh: --slower=$percent: must be at least 1" >&2; exit 2; }
	;;
*) echo "make-repo.sh: unknown option $slower" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
[ ! -e "$dest" ] || { echo "make-repo.sh: $dest exists" >&2; exit 2; }

mkdir -p "$dest"
cp -R "$here/app" "$here/loadgen" "$here/framework.yaml" "$here/README.md" "$dest/"
rm -f "$dest/app/app" "$dest/loadgen/loadgen"

build() {
	(cd "$dest/app" && CGO_ENABLED=0 GOWORK=off go build -trimpath -o app .)
	(cd "$dest/loadgen" && CGO_ENABLED=0 GOWORK=off go build -trimpath -o loadgen .)
}
commit() {
	git -C "$dest" add -A
	git -C "$dest" -c user.name=pitwall -c user.email=pitwall@localhost commit -q -m "$1"
	git -C "$dest" rev-parse HEAD
}

git -C "$dest" init -q -b main
build
commit "http-service example"

if [ -n "$percent" ]; then
	rounds=$(sed -n 's/^const workRounds = \([0-9]*\)$/\1/p' "$dest/app/main.go")
	[ -n "$rounds" ] || { echo "make-repo.sh: no workRounds constant in app/main.go" >&2; exit 1; }
	sed -i "s/^const workRounds = $rounds\$/const workRounds = $((rounds * (100 + percent) / 100))/" "$dest/app/main.go"
	build
	commit "app: $percent% more work per request"
fi
