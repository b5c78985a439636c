"""`down` never reports another session's last word as this one's."""

from __future__ import annotations

from clusterbench.cluster import lifecycle
from clusterbench.cluster.state import ClusterState


def test_a_stale_down_file_of_another_session_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERBENCH_STATE_DIR", str(tmp_path))
    path = lifecycle.state_dir() / "cluster-lab.json"
    lifecycle.write_state(path, ClusterState("lab", pid=None, session="new"))
    # An earlier daemon was SIGKILLed after writing this, and never cleaned it up.
    lifecycle.write_state(lifecycle.down_file(path), ClusterState(
        "lab", session="old", leftovers={"pi2": ["could not check: timed out"]}))
    final = lifecycle.stop(path, grace=1.0)
    assert final.session == "new" and final.leftovers is None
    assert not path.exists() and not lifecycle.down_file(path).exists()
