#!/usr/bin/env bash
# Installs the Debian packages of a one-node SLURM cluster (used by tests/test_slurm.py).
# The test starts and stops the daemons itself; this script only installs them, and does nothing
# when they are already present. Needs root (CI here is root); elsewhere it says what to run.
set -euo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)

missing=()
for command in slurmctld slurmd sbatch squeue munged; do
    command -v "$command" >/dev/null || missing+=("$command")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "SLURM is missing (${missing[*]}): run 'sudo apt-get install ${PACKAGES[*]}'" >&2
    echo "(tests/test_slurm.py skips without it)" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# The Debian packages enable and may start the daemons with their default config: the test runs
# its own, so stop whatever the package scripts started (service names, not process names).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now slurmctld slurmd munge >/dev/null 2>&1 || true
fi
