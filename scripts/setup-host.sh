#!/usr/bin/env bash
# Installs the host packages stack and its tests use, idempotently: packages
# already present are not touched, so a second run is quick and offline-safe.
# Run as root (CI runs as root) on Debian 12 or a recent Ubuntu.
set -euo pipefail

packages=(
  runc            # the OCI runtime stack drives (crun is optional)
  busybox-static  # tiny test images
  tini            # tini-static: `init: true`
  iproute2        # ip link/netns/addr for bridges and veth pairs
  nftables        # NAT, forwarding, published ports
  mmdebstrap      # the Debian base image for the quickstart
  docker-registry # a real registry on 127.0.0.1 for the registry tests
  skopeo          # an independent client that checks what stack pushes
  ca-certificates
  xz-utils
  zstd
  attr            # setfattr: overlay opaque-dir xattrs when unpacking image layers
)

if [ "$(id -u)" != 0 ]; then
  echo "setup-host: run as root (stack manages mounts, namespaces and cgroups)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian docker-registry package starts a system registry on :5000 with
# systemd; the tests start their own on random loopback ports instead.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup-host: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
echo "setup-host: ok"
