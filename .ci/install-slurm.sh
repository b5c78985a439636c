#!/usr/bin/env bash
# Installs SLURM + munge for the integration tests (tests/fixtures/slurm.py starts them itself:
# nothing here starts or enables a service). Idempotent: does nothing when already installed.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
binaries=(munged slurmctld slurmd sbatch squeue scancel sinfo srun)

missing=0
for binary in "${binaries[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$binary" >/dev/null || missing=1
done
if [ "$missing" = 0 ]; then
  echo "install-slurm: already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-slurm: must run as root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-slurm: installed ${packages[*]}"
