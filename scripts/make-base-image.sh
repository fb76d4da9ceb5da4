#!/usr/bin/env bash
# Makes the Debian base image the quickstart builds FROM, without a registry:
# when IMAGE (default debian:bookworm-slim) is not in stack's local store,
# build a minimal Debian root filesystem with mmdebstrap from the host's
# configured Debian mirror and import it with `stack image import`.
# The tarball is cached (STACK_CACHE_DIR, default ~/.cache/stack) so a second
# state dir, or CI's second run, imports it without downloading again;
# REFRESH=1 makes it anew (its apt lists are then fresh too).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
stack="$here/bin/stack"
image=${1:-debian:bookworm-slim}
suite=${SUITE:-bookworm}
cache=${STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stack}
tarball="$cache/$suite-slim.tar"
# mmdebstrap picks its output format from the name: the partial file must end
# in .tar too, or it writes a directory.
partial="$cache/.$suite-slim.partial.tar"

if [ "${REFRESH:-0}" != 1 ] && "$stack" image inspect "$image" >/dev/null 2>&1; then
  echo "make-base-image: $image is already in the store"
  exit 0
fi

if [ "${REFRESH:-0}" = 1 ] || [ ! -s "$tarball" ]; then
  command -v mmdebstrap >/dev/null || { echo "make-base-image: mmdebstrap is missing: run scripts/setup-host.sh (or apt-get install mmdebstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  echo "make-base-image: building $suite (minbase) with mmdebstrap into $tarball"
  started=$(date +%s)
  # Like Docker's -slim images: no docs, man pages or locales; dpkg without
  # fsync (force-unsafe-io, as in Docker's Debian images: image builds are
  # throw-away until committed). The dpkg and apt options stay in the image.
  # apt's package lists are kept, without translations: a Dockerfile's
  # `apt-get update` then fetches only what changed since (pdiffs), instead
  # of ~10 MB of lists (slow to fetch and decompress).
  mmdebstrap --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='force-unsafe-io' \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Languages "none"' \
    --skip=cleanup/apt/lists \
    --customize-hook='rm -f "$1"/var/cache/apt/*.bin; rm -rf "$1"/var/cache/apt/archives/*.deb' \
    "$suite" "$partial"
  mv "$partial" "$tarball"
  echo "make-base-image: built in $(( $(date +%s) - started )) s"
fi

echo "make-base-image: importing $tarball as $image"
# The config the registry's debian image has: PATH (a Dockerfile's
# `ENV PATH=…:$PATH` reads it) and bash.
"$stack" image import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  "$tarball" "$image"
