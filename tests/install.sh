#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine (as root):
# the real components (OpenSSH server, iproute2, SLURM + munge) and the Python package.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    openssh-server openssh-client iproute2 util-linux procps \
    slurmctld slurmd slurm-client munge >/dev/null
else
  echo "tests/install.sh: not root with apt-get: SSH/lab/SLURM tests will be skipped" >&2
fi
python3 -m pip install -q -e '.[dev]'
