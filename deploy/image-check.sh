#!/usr/bin/env bash
# Build the image and run it, without Docker Hub: a Debian base made here with debootstrap (from
# Debian's mirror), built with buildah in chroot isolation (no daemon, no user namespaces: what a
# CI container allows; podman's runc cannot set its rlimits there). Then the migration command,
# the web process, the image's own health check, and what the final image must not contain.
# Prints the image's size. Needs root, debootstrap and buildah (Debian's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${IMAGE_CHECK_DIR:-/var/tmp/relo-image-check}"
base=localhost/relo-base:bookworm
image=localhost/relo-review:check
port="${IMAGE_CHECK_PORT:-18765}"
mkdir -p "$work"

# The Debian mirror this machine's apt already uses (its sources list), so nothing here names one.
debian_mirror() {
  grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | grep -v security | head -n1
}

if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3 \
    bookworm "$work/rootfs" "$(debian_mirror)" >"$work/debootstrap.log"
  # pip in the build trusts what this machine trusts (a CI proxy's certificate included).
  cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
  buildah commit --quiet "$ctr" "$base" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -rf "$work/rootfs" "$work/rootfs.tar"
fi

buildah bud --quiet --format docker --isolation chroot --network host \
  --build-arg PYTHON_IMAGE="$base" -t "$image" -f Dockerfile . >/dev/null

ctr=$(buildah from "$image")
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  buildah rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
in_image() { buildah run --isolation chroot --network host --env HOST=127.0.0.1 \
  --env PORT="$port" --env DATABASE_URL=sqlite:////tmp/ledger.db "$ctr" -- "$@"; }

[ "$(in_image id -u)" = 10001 ] || { echo "the image runs as root" >&2; exit 1; }
for unwanted in gcc cc pytest mypy; do
  if in_image sh -c "command -v $unwanted" >/dev/null 2>&1; then
    echo "the image contains $unwanted" >&2; exit 1
  fi
done
in_image python -m app migrate

buildah run --isolation chroot --network host --env HOST=127.0.0.1 --env PORT="$port" \
  --env DATABASE_URL=sqlite:////tmp/ledger.db --env GITHUB_WEBHOOK_SECRET=image-check \
  "$ctr" -- python -m app serve >"$work/serve.log" 2>&1 &
server=$!
probe=$(buildah inspect --type image "$image" | python3 -c '
import json, sys
test = json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]
assert test[:3] == ["CMD", "python", "-c"], test
print(test[3])')
for _ in $(seq 1 60); do
  if in_image python -c "$probe" 2>/dev/null; then
    echo "image check: $image serves /healthz and passes its HEALTHCHECK;" \
      "size $(buildah images --format '{{.Size}}' "$image")"
    exit 0
  fi
  sleep 0.5
done
echo "the image's health check never passed; the server said:" >&2
cat "$work/serve.log" >&2
exit 1
