#!/usr/bin/env bash
# Makes the Debian base image the quickstart builds FROM, without a registry:
# when IMAGE (default debian:bookworm-slim) is not in stack's local store,
# build a minimal Debian root filesystem with mmdebstrap from the host's
# configured Debian mirror and import it with `stack image import`.
# The tarball is cached (STACK_CACHE_DIR, default ~/.cache/stack) so a second
# state dir, or CI's second run, imports it without downloading again.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
stack="$here/bin/stack"
image=${1:-debian:bookworm-slim}
suite=${SUITE:-bookworm}
cache=${STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stack}
tarball="$cache/$suite-slim.tar"

if "$stack" image inspect "$image" >/dev/null 2>&1; then
  echo "make-base-image: $image is already in the store"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  echo "make-base-image: building $suite (minbase) with mmdebstrap into $tarball"
  # Like Docker's -slim images: no docs, man pages or locales.
  mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$suite" "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
fi

echo "make-base-image: importing $tarball as $image"
"$stack" image import --change 'CMD ["bash"]' "$tarball" "$image"
