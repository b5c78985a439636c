"""Generated INI and YAML inventories read by ``ansible-inventory --list`` and by the
built-in reader: the same JSON (groups, children, every host's variables), or both refuse.

Each case starts ``ansible-inventory`` (about 0.6 s), so there are few of them
(derandomized); without ansible-inventory the test skips with the reason (fails under
``CI=true``)."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from clusterbench.errors import InventoryError  # noqa: E402
from clusterbench.inventory.ansible_readers import (  # noqa: E402
    ansible_inventory,
    ansible_inventory_listing,
    builtin_listing,
)
from tests.ansible_inventories import ansible_inventory_or_reason  # noqa: E402

GROUPS = ["pis", "nodes", "cluster", "head", "all", "ungrouped"]
HOSTS = ["pi1", "pi2", "node[1:3]", "node[01:03]", "n-[a:b]", "desk:2222", "localhost",
         "10.0.0.[1:2]"]
VALUES = ["pi", "'pi'", '"ubuntu"', "22", "0x10", "True", "yes", "[1, 2]", "1.5", "None",
          "a b", "{{ x }}", "~/.ssh/id"]
VARS = ["ansible_user", "ansible_port", "ansible_host", "clusterbench_workers", "x",
        "ansible_group_priority"]

pair = st.tuples(st.sampled_from(VARS), st.sampled_from(VALUES))
host_line = st.builds(lambda host, pairs: " ".join([host] + [f"{k}={v}" for k, v in pairs]),
                      st.sampled_from(HOSTS), st.lists(pair, max_size=2))
section = st.one_of(
    st.builds(lambda g, lines: [f"[{g}]", *lines], st.sampled_from(GROUPS),
              st.lists(host_line, max_size=3)),
    st.builds(lambda g, kids: [f"[{g}:children]", *kids], st.sampled_from(GROUPS),
              st.lists(st.sampled_from(GROUPS), max_size=2)),
    st.builds(lambda g, pairs: [f"[{g}:vars]", *(f"{k}={v}" for k, v in pairs)],
              st.sampled_from(GROUPS), st.lists(pair, max_size=2)),
)
ini_text = st.builds(lambda top, sections: "\n".join(
    top + [line for block in sections for line in block]) + "\n",
    st.lists(host_line, max_size=2), st.lists(section, min_size=1, max_size=4))

scalar = st.sampled_from(["pi", 22, True, None, 1.5, "{{ x }}", [1, 2]])
yaml_group = st.recursive(
    st.fixed_dictionaries({}, optional={
        "hosts": st.dictionaries(st.sampled_from(HOSTS),
                                 st.one_of(st.none(), st.dictionaries(st.sampled_from(VARS),
                                                                      scalar, max_size=2)),
                                 max_size=3),
        "vars": st.dictionaries(st.sampled_from(VARS[:-1]), scalar, max_size=2)}),
    lambda inner: st.fixed_dictionaries({}, optional={
        "hosts": st.dictionaries(st.sampled_from(HOSTS), st.none(), max_size=2),
        "children": st.dictionaries(st.sampled_from(GROUPS[:4]), st.one_of(st.none(), inner),
                                    max_size=2)}),
    max_leaves=4)
yaml_text = st.dictionaries(st.sampled_from(GROUPS), yaml_group, min_size=1, max_size=3).map(
    lambda data: yaml.safe_dump(data, sort_keys=False))

few = settings(max_examples=12, deadline=datetime.timedelta(seconds=30), derandomize=True,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.function_scoped_fixture])


def same_listing(path) -> None:
    if ansible_inventory_or_reason():
        pytest.skip("ansible-inventory not on PATH")
    try:
        expected = ansible_inventory_listing(path, None, ansible_inventory())
    except InventoryError:
        with pytest.raises(InventoryError):
            builtin_listing(path, None)
        return
    expected["_meta"].pop("profile", None)
    got = builtin_listing(path, None)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True), \
        path.read_text()


@few
@given(text=ini_text)
def test_generated_ini_inventories_read_alike(tmp_path, text):
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    same_listing(path)


@few
@given(text=yaml_text)
def test_generated_yaml_inventories_read_alike(tmp_path, text):
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    same_listing(path)
