#!/usr/bin/env bash
# Idempotent installer for everything vnas needs to build, run and test on
# Debian 12. Installs only packages that are missing; runs `apt-get update`
# at most once per invocation, and only when something is missing.
set -euo pipefail

PACKAGES=(
  # Build
  bazel-bootstrap g++ default-jdk-headless
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libnfs-dev libgtest-dev libgmock-dev
  libbenchmark-dev
  # Real clients used by the integration tests
  qemu-utils qemu-block-extra libnfs-utils
  # Tests: network namespaces for the portmapper on port 111, process tools
  iproute2 util-linux procps python3
  # libFuzzer targets (bazel --config=fuzz): clang + its fuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run this script as root (or install sudo) to install them:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
