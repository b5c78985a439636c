"""Queue hosts take their defaults from dask's ``jobqueue.<system>`` config, as dask-jobqueue
does; the inventory wins; clusterbench's old defaults are the last fallback (pure)."""

from __future__ import annotations

import copy

import dask.config
import pytest
import yaml

from clusterbench.errors import InventoryError
from clusterbench.launchers.base import SpecContext
from clusterbench.launchers.jobqueue import SGE, SLURM, QueueHost
from clusterbench.launchers.jobqueue.host import DEFAULT, INVENTORY

CONTEXT = SpecContext(cluster="c")


def _loaded(tmp_path, monkeypatch, folder, text):
    """Write *text* as ``<folder>/jobqueue.yaml``, add the folder to dask's config paths and
    load it as dask does; yields the file, then restores dask's config."""
    directory = tmp_path / folder
    directory.mkdir()
    path = directory / "jobqueue.yaml"
    path.write_text(text)
    monkeypatch.setattr(dask.config, "paths", [*dask.config.paths, str(directory)])
    saved = copy.deepcopy(dask.config.config)
    dask.config.refresh(paths=dask.config.paths)
    yield path
    dask.config.config.clear()  # refresh() changed the global mapping in place
    dask.config.config.update(saved)


@pytest.fixture()
def site_config(tmp_path, monkeypatch):
    """A DASK_CONFIG-style directory with a jobqueue.yaml, loaded as dask loads it."""
    yield from _loaded(tmp_path, monkeypatch, "dask", yaml.safe_dump({"jobqueue": {
        "slurm": {"cores": 4, "processes": 2, "memory": "8GB", "queue": "batch",
                  "account": "proj1", "walltime": "02:00:00",
                  "job-extra-directives": ["--exclusive"],
                  "job-script-prologue": ["module load python"],
                  "interface": "ib0", "local-directory": "/scratch",
                  "log-directory": "/home/me/logs", "python": "/opt/venv/bin/python",
                  "worker-extra-args": ["--lifetime", "1h"]},
        "sge": {"project": "sgeproj", "cores": 2}}}))


def test_bare_host_takes_everything_from_the_site_config(site_config):
    host = QueueHost(name="hpc", launcher="slurm")
    options = SLURM.job_options(host, CONTEXT)
    assert (options["cores"], options["processes"], options["memory"]) == (4, 2, "8GB")
    assert (options["queue"], options["account"], options["walltime"]) == (
        "batch", "proj1", "02:00:00")
    assert options["job_extra_directives"] == ["--exclusive"]
    assert options["job_script_prologue"][-1] == "module load python"
    assert options["job_script_prologue"][0] == "export OMP_NUM_THREADS=1"  # exports first
    assert (options["interface"], options["local_directory"], options["log_directory"]) == (
        "ib0", "/scratch", "/home/me/logs")
    assert options["python"] == "/opt/venv/bin/python"
    assert options["worker_extra_args"] == ["--lifetime", "1h"]
    assert (host.worker_count, host.threads_per_worker) == (2, 2)
    origins = host.origins()
    assert origins["cores"] == f"dask config {site_config}"


def test_inventory_fields_override_the_config(site_config):
    host = QueueHost(name="hpc", launcher="slurm", cores=8, queue="debug", memory="1GB",
                     job_extra_directives=["--qos=low"])
    options = SLURM.job_options(host, CONTEXT)
    assert (options["cores"], options["queue"], options["memory"]) == (8, "debug", "1GB")
    assert options["processes"] == 2  # still the config's
    assert options["job_extra_directives"] == ["--qos=low"]
    assert host.origins()["queue"] == INVENTORY
    lines = SLURM.sources(host)
    assert "queue debug (inventory)" in lines
    assert f"processes 2 (dask config {site_config})" in lines


def test_dask_config_set_and_environment_variables_count_too(monkeypatch):
    with dask.config.set({"jobqueue.slurm.cores": 3, "jobqueue.slurm.memory": "3GB"}):
        host = QueueHost(name="hpc", launcher="slurm")
        assert SLURM.job_options(host, CONTEXT)["cores"] == 3
        assert host.origins()["memory"] == "dask config"
    monkeypatch.setenv("DASK_JOBQUEUE__SLURM__CORES", "5")
    with dask.config.set({"jobqueue.slurm.cores": 5}):  # what dask makes of the variable
        assert QueueHost(name="hpc", launcher="slurm").origins()["cores"] == (
            "env DASK_JOBQUEUE__SLURM__CORES")


def test_without_config_the_old_defaults_remain():
    host = QueueHost(name="hpc", launcher="slurm")
    options = SLURM.job_options(host, CONTEXT)
    assert (options["cores"], options["processes"], options["memory"]) == (1, 1, "1GB")
    assert options["walltime"] == "00:30:00"
    assert host.origins()["cores"] == DEFAULT
    assert host.worker_count == 1


def test_sge_reads_its_account_from_project(site_config):
    host = QueueHost(name="grid", launcher="sge")
    assert SGE.job_options(host, CONTEXT)["project"] == "sgeproj"


def test_a_bad_config_value_names_its_file(site_config):
    bad = r"field 'walltime': must be like .*'two hours' \(from dask config\)"
    with dask.config.set({"jobqueue.slurm.walltime": "two hours"}), \
            pytest.raises(InventoryError, match=bad):
        SLURM.validate(QueueHost(name="hpc", launcher="slurm"), "inv.yml: hosts[0] 'hpc'")
    with pytest.raises(InventoryError, match=r"processes \(2\) cannot exceed cores \(1\).*"
                                             r"cores inventory"):
        QueueHost(name="hpc", launcher="slurm", cores=1).effective()  # config: processes 2


@pytest.fixture()
def old_key_config(tmp_path, monkeypatch):
    """A jobqueue.yaml written for an older dask-jobqueue: env-extra, job-extra, extra."""
    yield from _loaded(tmp_path, monkeypatch, "dask-old", yaml.safe_dump({"jobqueue": {"slurm": {
        "cores": 2, "memory": "2GB", "env-extra": ["module load python/3.11"],
        "job-extra": ["--qos=debug"], "extra": ["--lifetime", "1h"], "project": "proj7",
        "header-skip": ["--mem"]}}}))


def test_the_old_names_of_renamed_keys_are_honoured_once_and_quietly(old_key_config):
    """dask-jobqueue honours env-extra only when job_script_prologue is empty, and
    clusterbench always passes one (BLAS exports): the module line was dropped."""
    import warnings

    host = QueueHost(name="hpc", launcher="slurm").effective()
    assert host.job_script_prologue == ("module load python/3.11",)
    assert host.job_extra_directives == ("--qos=debug",)
    assert host.worker_extra_args == ("--lifetime", "1h")
    assert host.origins()["job_script_prologue"] == (
        f"dask config {old_key_config}: 'env-extra', renamed 'job-script-prologue'")
    assert host.account == "proj7"  # before 0.8, SLURM's -A was `project`
    assert host.origins()["account"] == (
        f"dask config {old_key_config}: 'project', renamed 'account'")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dask-jobqueue's FutureWarning would fail here
        (script,) = SLURM.job_scripts(host, CONTEXT)
    lines = script.splitlines()
    assert lines.count("module load python/3.11") == 1
    assert lines.count("#SBATCH --qos=debug") == 1
    assert script.count("--lifetime 1h") == 1
    assert lines.count("#SBATCH -A proj7") == 1
    assert not any(line.startswith("#SBATCH --mem") for line in lines)  # header-skip honoured


@pytest.fixture()
def misshapen_config(tmp_path, monkeypatch):
    """A jobqueue.yaml whose 'slurm' section lost its indentation: a string, not settings."""
    yield from _loaded(tmp_path, monkeypatch, "dask-misshapen", "jobqueue:\n  slurm: cores 4\n")


def test_a_section_that_is_not_a_mapping_is_refused_naming_its_file(misshapen_config):
    """dask's config.get answers a lookup through a string with the default: the file's
    settings were ignored without a word."""
    expected = (f"host 'hpc': dask config {misshapen_config}: 'jobqueue.slurm' must be a "
                "mapping of settings, got str 'cores 4'")
    with pytest.raises(InventoryError) as raised:
        QueueHost(name="hpc", launcher="slurm").effective()
    assert str(raised.value) == expected
    assert QueueHost(name="grid", launcher="sge").effective().cores == 1  # other systems


def test_a_misshapen_section_from_a_variable_or_the_process_names_that(monkeypatch):
    monkeypatch.setenv("DASK_JOBQUEUE__PBS", "[1, 2]")
    with dask.config.set({"jobqueue.pbs": [1, 2]}), \
            pytest.raises(InventoryError, match=r"env DASK_JOBQUEUE__PBS: 'jobqueue.pbs' "
                                                r"must be a mapping of settings, got list"):
        QueueHost(name="hpc", launcher="pbs").effective()
    monkeypatch.delenv("DASK_JOBQUEUE__PBS")
    with dask.config.set({"jobqueue": "x" * 60}), \
            pytest.raises(InventoryError, match=r"dask config \(set in the process\): "
                                                r"'jobqueue' must be .* got str 'xxx.*\.\.\.$"):
        QueueHost(name="hpc", launcher="pbs").effective()


def test_a_numbered_account_or_queue_is_its_text():
    """Sites number their projects (`account: 2023001` in a jobqueue.yaml or inventory);
    dask-jobqueue writes the number into the directive as is."""
    with dask.config.set({"jobqueue.slurm.account": 2023001}):
        host = QueueHost(name="hpc", launcher="slurm", queue=7).effective()
        assert (host.account, host.queue) == ("2023001", "7")
        options = SLURM.job_options(host, CONTEXT)
    assert (options["account"], options["queue"]) == ("2023001", "7")
    with pytest.raises(ValueError, match=r"account\n.*YAML reads an unquoted yes"):
        QueueHost(name="hpc", launcher="slurm", account=True)  # a bool stays refused


def test_a_mapping_of_directives_is_htcondor_s_form_only():
    """`job-extra-directives: {exclusive: true}` became `#SBATCH exclusive = True`."""
    with dask.config.set({"jobqueue.slurm.job-extra-directives": {"exclusive": True}}), \
            pytest.raises(InventoryError, match=r"field 'job_extra_directives' \(dask config\)"):
        QueueHost(name="hpc", launcher="slurm").effective()
    with dask.config.set({"jobqueue.htcondor.job-extra-directives": {"+Owner": "x"}}):
        host = QueueHost(name="pool", launcher="htcondor").effective()
    assert host.job_extra_directives == ("+Owner = x",)
