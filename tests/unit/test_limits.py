"""doctor's limits of large clusters (issue 16): ulimit -n, network filesystems, sshd's
MaxStartups/MaxSessions, heartbeat and connect settings above 100 workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from clusterbench.cluster.limits import (
    SUGGESTED_CONFIG,
    fd_warning,
    fds_needed,
    fs_type,
    heartbeat_warning,
    network_fs_warning,
    parse_mounts,
)
from clusterbench.launchers.ssh.checks import sshd_limits, sshd_warnings
from clusterbench.launchers.ssh.host import SSHHost

MOUNTS = textwrap.dedent("""\
    /dev/vda1 / ext4 rw,relatime 0 0
    tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
    nas:/export/home /home nfs4 rw,vers=4.2,addr=10.0.0.5 0 0
    10.0.0.9@tcp:/scratch /scratch lustre rw,flock 0 0
    /dev/vdb1 /home/local ext4 rw 0 0
    server:/with\\040space /mnt/with\\040space nfs rw 0 0
""")


def test_low_ulimit_in_a_subprocess_is_warned_with_the_fix():
    # The limit is lowered in a child process only: this test process keeps its own.
    code = textwrap.dedent("""
        import resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        from clusterbench.cluster.limits import fd_warning
        print(fd_warning(64) or "none")
        print(fd_warning(10) or "none")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    low, fine = result.stdout.strip().splitlines()
    assert low.startswith("ulimit -n is 256; 64 workers need about 740 file descriptors")
    assert "ulimit -n 740" in low
    assert fine == "none"


def test_hard_limit_below_the_need_says_so():
    text = fd_warning(200, limits=(1024, 1024))
    assert text is not None and "the hard limit is 1024" in text
    assert fd_warning(200, limits=(4096, 4096)) is None
    assert fds_needed(100, ssh_connections=13) == 1113


def test_fs_type_parser_finds_the_longest_mount_point():
    assert parse_mounts(MOUNTS)[2] == ("/home", "nfs4")
    assert parse_mounts(MOUNTS)[5] == ("/mnt/with space", "nfs")
    assert fs_type("/home/alice/dask", MOUNTS) == "nfs4"
    assert fs_type("/home/local/x", MOUNTS) == "ext4"
    assert fs_type("/homework", MOUNTS) == "ext4"  # not under /home
    assert fs_type("/scratch/job1", MOUNTS) == "lustre"
    assert fs_type("/mnt/with space/a", MOUNTS) == "nfs"
    assert fs_type("/tmp", MOUNTS) == "tmpfs"


def test_network_fs_is_warned_with_dask_jobqueues_advice():
    text = network_fs_warning("/home/alice/dask-scratch", "local_directory of host 'hpc'",
                              MOUNTS)
    assert text is not None
    assert text.startswith("local_directory of host 'hpc' /home/alice/dask-scratch is on nfs4")
    assert "$TMPDIR" in text and "dask-jobqueue#193" in text
    assert network_fs_warning("/scratch/x", "w", MOUNTS) is not None  # lustre
    assert network_fs_warning("/tmp/x", "w", MOUNTS) is None
    assert network_fs_warning("/home/local/x", "w", MOUNTS) is None


def test_sshd_config_parser_first_value_wins_and_match_is_not_followed():
    text = textwrap.dedent("""\
        # MaxStartups 1
        Port 22
        maxsessions 4   # lower than our 9
        MaxSessions 20
        Match User bob
            MaxStartups 2:30:10
    """)
    assert sshd_limits(text) == {"maxstartups": "10:30:100", "maxsessions": "4"}
    assert sshd_limits("maxstartups 3:30:100\nmaxsessions 10\n") == {
        "maxstartups": "3:30:100", "maxsessions": "10"}  # `sshd -T` output
    assert sshd_limits("") == {"maxstartups": "10:30:100", "maxsessions": "10"}


def test_sshd_warnings_only_when_the_workers_need_more():
    busy = SSHHost(launcher="ssh", name="big", address="10.0.0.2", workers=64, max_startups=8)
    warnings = sshd_warnings(busy, {"maxstartups": "4:30:100", "maxsessions": "4"})
    assert len(warnings) == 2
    assert "MaxStartups 4:30:100" in warnings[0] and "max_startups: 4" in warnings[0]
    assert "raise MaxSessions to 9" in warnings[1]
    small = SSHHost(launcher="ssh", name="pi", address="10.0.0.3", workers=2)
    assert sshd_warnings(small, {"maxstartups": "10:30:100", "maxsessions": "10"}) == []
    assert sshd_warnings(small, {"maxstartups": "x", "maxsessions": "10"}) == []


def test_more_than_100_workers_get_the_suggested_config():
    defaults = {"connect": "30s", "worker-ttl": "5 minutes"}
    assert heartbeat_warning(100, defaults) is None
    text = heartbeat_warning(101, defaults)
    assert text is not None
    assert "distributed.comm.timeouts.connect is 30 s" in text
    assert "dask-jobqueue#316" in text and SUGGESTED_CONFIG in text
    assert heartbeat_warning(500, {"connect": "60s", "worker-ttl": "10 minutes"}) is None
    short_ttl = heartbeat_warning(1000, {"connect": "90s", "worker-ttl": "30s"})
    assert short_ttl is not None and "worker-ttl is 30 s" in short_ttl
    assert heartbeat_warning(1000, {"connect": "90s", "worker-ttl": None}) is None
    assert heartbeat_warning(150) is not None  # dask's default connect timeout is 30 s


def test_cluster_warnings_name_a_queue_hosts_nfs_local_directory(tmp_path):
    from clusterbench.cluster.limits import cluster_warnings
    from clusterbench.inventory.load import load_inventory

    path = tmp_path / "hpc.yml"
    path.write_text("cluster: hpc\nhosts:\n"
                    "  - {name: hpc, launcher: slurm, jobs: 2, cores: 4, processes: 2, "
                    "walltime: '01:00:00', local_directory: /home/alice/scratch}\n")
    warnings = cluster_warnings(load_inventory(str(path)), cwd="/home/alice",
                                mounts_text=MOUNTS)
    by_subject = {w.subject: w.text for w in warnings}
    assert by_subject["hpc"].startswith("local_directory of host 'hpc' /home/alice/scratch "
                                        "is on nfs4")
    assert "queue jobs" not in by_subject  # local_directory is set: the cwd does not matter
    path.write_text(path.read_text().replace(", local_directory: /home/alice/scratch", ""))
    warnings = cluster_warnings(load_inventory(str(path)), cwd="/home/alice",
                                mounts_text=MOUNTS)
    assert "queue jobs start in the working directory /home/alice is on nfs4" in " ".join(
        w.text for w in warnings)
