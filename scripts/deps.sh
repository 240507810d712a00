#!/usr/bin/env bash
# Installs the Debian 12 packages the workspace needs, only those missing.
# Idempotent; needs root (or sudo) only when something is missing.
#   scripts/deps.sh            build + test packages
#   scripts/deps.sh ci         the same plus what only CI needs (fuzzing peers)
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc
  # fuzzing and the sanitizer build with clang
  clang libclang-rt-14-dev
  # tests
  libcriterion-dev python3 gcovr
  # control-plane components
  libglib2.0-dev libjson-glib-dev
  # spapr
  libfdt-dev device-tree-compiler
  # minivmm
  libseccomp-dev libunicorn-dev
  # guest programs
  gcc-powerpc64-linux-gnu gcc-powerpc64le-linux-gnu
  # real vhost-user-blk peer for the vhost-svq tests
  qemu-system-common
  # big-endian check (tests/bigendian): the data-plane suites under qemu-ppc64
  qemu-user
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
