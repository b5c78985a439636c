#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine (as root):
# the real components (OpenSSH server, iproute2, SLURM + munge, Grid Engine; tcsh, a login shell
# of csh syntax for doctor's login check) and the Python package.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    openssh-server openssh-client iproute2 util-linux procps tcsh \
    slurmctld slurmd slurm-client munge >/dev/null
  # A real headless browser for report.html / compare --html (tests/integration/test_report_html.py)
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  # Grid Engine (tests/fixtures/sge.py makes its own cell under a temp dir): preseed "do not
  # configure a cell" (else gridengine-master's postinst initialises /var/spool/gridengine),
  # and keep the packages' init scripts from starting daemons during the install.
  for pkg in gridengine-common gridengine-master gridengine-exec gridengine-client; do
    echo "$pkg shared/gridengineconfig boolean false"
  done | debconf-set-selections
  no_start=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    no_start=1
  fi
  apt-get install -y -qq --no-install-recommends \
    gridengine-master gridengine-exec gridengine-client >/dev/null
  if [ -n "$no_start" ]; then rm -f /usr/sbin/policy-rc.d; fi
else
  echo "tests/install.sh: not root with apt-get: SSH/lab/SLURM/SGE/browser tests will be skipped" >&2
fi
python3 -m pip install -q -e '.[dev]'
# ansible-inventory: the Ansible reader tests compare it with the built-in reader (also in
# the dev extra; tests/unit/test_ansible_* fail under CI=true without it)
python3 -m pip install -q 'ansible-core>=2.15'
