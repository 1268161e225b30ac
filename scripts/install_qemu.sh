#!/usr/bin/env bash
# Installs QEMU's user-mode emulator, which tests/test_embeddings_avx2.py uses to run the encoder on an
# emulated AVX2-only CPU whatever CPU the machine has.
set -euo pipefail
if command -v qemu-x86_64 >/dev/null 2>&1; then
  echo "install_qemu: $(command -v qemu-x86_64) already there; nothing to do"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install_qemu: not root: install Debian's qemu-user by hand; the emulated-CPU test is skipped until then" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null
echo "install_qemu: installed $(command -v qemu-x86_64)"
