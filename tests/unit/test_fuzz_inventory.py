"""Hostile inventory input never gives a traceback (hypothesis, derandomized).

Inventory files (random YAML structures, mutated YAML text, random bytes and encodings,
alias structures), Ansible inventories (YAML structures, mutated text, the built-in INI
reader on mutated and random INI) and the
``run`` command line's list options either load/parse or are refused with ONE line
that starts with the file's name, within a deadline.  The alias bomb and the deep
nesting also get explicit time and memory bounds.  3,400 generated cases in all.
"""

from __future__ import annotations

import codecs
import datetime
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from clusterbench.cluster.validate import validate_for_up  # noqa: E402
from clusterbench.errors import ClusterbenchError, InventoryError  # noqa: E402
from clusterbench.inventory.ansible import read_ansible  # noqa: E402
from clusterbench.inventory.load import load_inventory, parse_inventory  # noqa: E402
from clusterbench.inventory.model import Inventory, SchedulerSpec  # noqa: E402
from clusterbench.inventory.safe_yaml import MAX_MESSAGE  # noqa: E402
from clusterbench.launchers.registry import host_model, launcher_names  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

#: Per generated case; the explicit bomb/nesting tests below bound the worst cases tighter.
DEADLINE = datetime.timedelta(seconds=2)


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=DEADLINE, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module", autouse=True)
def builtin_ansible_reader():
    """Files taken for Ansible inventories go to the built-in reader: a generated case must
    not start ``ansible-inventory`` (about 1 s each; tests/unit/test_ansible_* run it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLUSTERBENCH_ANSIBLE_READER", "builtin")
        yield


def refused_in_one_line(error: ClusterbenchError, path: Path | str) -> None:
    """The property every refusal has: one short line that starts with the file's name."""
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert message.splitlines() == [message] and "\n" not in message, message
    assert "Traceback" not in message and len(message) <= MAX_MESSAGE, message
    assert all(ch.isprintable() for ch in message), message


def loads_or_one_line(path: Path) -> Inventory | None:
    """``load_inventory(path)``: an Inventory, or a one-line InventoryError (None)."""
    start = time.monotonic()
    try:
        inventory = load_inventory(path)
    except InventoryError as error:
        refused_in_one_line(error, path)
        return None
    finally:
        assert time.monotonic() - start < DEADLINE.total_seconds()
    assert isinstance(inventory, Inventory) and inventory.hosts
    return inventory


# --- values --------------------------------------------------------------------------

WEIRD_TEXT = ["", " ", "auto", "1e400", "-0", "0x10", "1_000", "512MB", "-5GB", "1e9GB", "nan",
              "inf", "-inf", "NaN", "four", "00:30:00", "99:99:99", "1:2:3:4", "a:b:c",
              "tcp://1.2.3.4:8786", "../../etc/passwd", "~root/.ssh/id", "$(reboot)", "a\x00b",
              "\u202e\u2028\x85", "é" * 40, "x" * 20_000, "ssh", "slurm", "local"]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-10**30, 10**30), st.sampled_from([0, -1, 2**63, 10**9, 65536, 4097, 10_001]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.text(st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(WEIRD_TEXT),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10)
LAUNCHERS = launcher_names()
HOST_FIELDS = sorted(set().union(*(host_model(name).model_fields for name in LAUNCHERS)))
host_keys = st.one_of(st.sampled_from(HOST_FIELDS), st.text(max_size=6))
names = st.one_of(st.sampled_from(["pi1", "pi2", "hpc", "a.b-c_d", "local"]), st.text(max_size=8),
                  scalars)
hosts = st.one_of(
    st.builds(lambda name, launcher, rest: {**rest, "name": name, "launcher": launcher},
              names, st.one_of(st.sampled_from(LAUNCHERS), scalars),
              st.dictionaries(host_keys, values, max_size=6)),
    values,
)
scheduler = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(sorted(SchedulerSpec.model_fields)),
                              st.text(max_size=6)), values, max_size=4),
    values)
TOP = ["cluster", "scheduler", "defaults", "hosts", "min_workers", "security", "source"]
inventories = st.builds(
    lambda fixed, extra: extra | fixed,
    st.fixed_dictionaries({"hosts": st.one_of(st.lists(hosts, max_size=4), values)},
                          optional={"scheduler": scheduler, "defaults": values,
                                    "cluster": scalars, "min_workers": scalars,
                                    "security": scalars}),
    st.dictionaries(st.one_of(st.sampled_from(TOP), st.text(max_size=6)), values, max_size=2),
)


def dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=float("inf"))


# --- inventory files -------------------------------------------------------------------


@fuzz(700)
@given(inventories)
def test_any_inventory_structure_loads_or_is_one_line(fuzz_dir, data):
    path = fuzz_dir / "structure.yml"
    path.write_text(dump(data), encoding="utf-8")
    loads_or_one_line(path)


#: Addresses that need no DNS: local ones bind, 192.0.2.1 (TEST-NET) fails at once.
SAFE_ADDRESSES = st.sampled_from(["127.0.0.1", "localhost", "::1", "192.0.2.1", None])


@fuzz(300)
@given(st.lists(hosts, min_size=1, max_size=3), SAFE_ADDRESSES,
       st.dictionaries(st.sampled_from(["port", "dashboard", "interface", "host"]), scalars,
                       max_size=2),
       st.one_of(st.none(), scalars))
def test_what_loads_is_ready_for_up_or_refused_in_one_line(fuzz_dir, host_list, address,
                                                           scheduler_fields, min_workers):
    scheduler_fields.pop("interface", None) if address else None
    data = {"hosts": host_list, "scheduler": {**scheduler_fields, "address": address}}
    if min_workers is not None:
        data["min_workers"] = min_workers
    path = fuzz_dir / "ready.yml"
    path.write_text(dump(data), encoding="utf-8")
    inventory = loads_or_one_line(path)
    if inventory is None:
        return
    start = time.monotonic()
    try:
        validate_for_up(inventory)
    except ClusterbenchError as error:  # InventoryError, or LaunchError: no sbatch here
        refused_in_one_line(error, path)
    assert time.monotonic() - start < DEADLINE.total_seconds()


VALID_DOCS = [
    "hosts:\n  - {name: a, launcher: local, workers: 2}\n",
    "cluster: lab\nscheduler: {address: 10.0.0.1, port: 8786}\ndefaults: {threads: 1}\n"
    "hosts:\n  - name: pi1\n    launcher: ssh\n    address: 10.0.0.2\n    identity: [~/.ssh/id]\n"
    "  - {name: hpc, launcher: slurm, jobs: 2, cores: 4, processes: 2, walltime: '01:00:00'}\n",
    "hosts:\n  - &base {name: x, launcher: local, threads: 2}\n  - {<<: *base, name: y}\n",
]
TOKENS = ["[", "]", "{", "}", ":", ": ", "- ", ",", "&a ", "*a", "&b ", "*b", "<<: *a", "? ",
          "!!binary ", "!!set ", "!!python/object/apply:os.system ['true'] ", "!!int ", "!!float ",
          "!!str ", "!!bool ", "!!timestamp ", "!!null ", "!!omap ", "!!pairs ", "!!map ",
          "!custom ", "%YAML 1.1\n", "---\n", "...\n", "# c", "\n", "\n  ", "  ", "\t",
          "'", '"', "\\", "|\n", ">\n", "@", "`", "%", "\x00", "\x07", "\x1b[31m", "\x85",
          "\u2028", "\ufeff", "\ud7ff", "é", "名", "🙂", "name: a", "hosts:", "launcher: ssh",
          "workers: ", "1e400", ".nan", ".inf", "-.inf", "-1", "0", "0x1F", "0o17", "~", "null",
          "yes", "2001-01-01", "2001-01-01T00:00:00Z", "99999999999999999999999", "hosts: *a",
          "name: a\nname: b\n", "x" * 500, "[" * 200, "{a: " * 100]
mutations = st.lists(st.tuples(st.integers(0, 400), st.sampled_from(TOKENS)), max_size=6)


def mutate(text: str, edits: list[tuple[int, str]]) -> str:
    for position, token in edits:
        at = position % (len(text) + 1)
        text = text[:at] + token + text[at:]
    return text


@fuzz(400)
@given(st.sampled_from(VALID_DOCS), mutations)
def test_mutated_inventory_text_loads_or_is_one_line(fuzz_dir, document, edits):
    path = fuzz_dir / "mutated.yml"
    path.write_text(mutate(document, edits), encoding="utf-8", errors="surrogatepass")
    loads_or_one_line(path)


@fuzz(200)
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)), max_size=40))
def test_token_soup_loads_or_is_one_line(fuzz_dir, tokens):
    path = fuzz_dir / "soup.yml"
    path.write_text("".join(tokens), encoding="utf-8", errors="surrogatepass")
    loads_or_one_line(path)


ENCODINGS = ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig",
             "utf-8"]
NON_ASCII_DOC = "hosts:\n  - {name: café, launcher: local, env: {GREETING: 'grüße 名前'}}\n"


@fuzz(300)
@given(st.one_of(
    st.binary(max_size=300),
    st.builds(lambda doc, enc: doc.encode(enc, errors="replace"),
              st.sampled_from([*VALID_DOCS, NON_ASCII_DOC]), st.sampled_from(ENCODINGS)),
    st.builds(lambda doc, at, junk: doc[:at] + junk + doc[at:],
              st.sampled_from([d.encode() for d in VALID_DOCS]), st.integers(0, 120),
              st.binary(min_size=1, max_size=6)),
))
def test_any_bytes_load_or_are_one_line(fuzz_dir, raw):
    path = fuzz_dir / "bytes.yml"
    path.write_bytes(raw)
    loads_or_one_line(path)


@fuzz(100)
@given(st.integers(1, 12), st.integers(1, 12), st.booleans(), st.sampled_from(
    ["env: {X: *top}", "tags: *top", "name: *top", "worker_extra_args: *top", "setup: *top"]))
def test_alias_structures_finish_in_time(fuzz_dir, levels, fanout, recursive, use):
    lines = ["l0: &l0 [" + ", ".join(["lol"] * fanout) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fanout) + "]")
    top = f"*l{levels - 1}"
    body = "\n".join(f"  {line}" for line in lines)
    cycle = "  self: &self [*self]\n" if recursive else ""
    document = (f"defaults:\n  env: {{}}\nhosts:\n  - name: a\n    launcher: ssh\n    address: x\n"
                f"    {use.replace('*top', top)}\nunused:\n{body}\n{cycle}")
    path = fuzz_dir / "aliases.yml"
    path.write_text(document, encoding="utf-8")
    loads_or_one_line(path)


# --- explicit worst cases --------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nhosts:\n  - {{name: a, env: {{X: *a{levels - 1}}}}}\n"


@pytest.mark.parametrize(("name", "text", "words"), [
    ("bomb.yml", billion_laughs(), "once aliases are expanded"),
    ("nested.yml", "[" * 10_000, "nested deeper than"),
    ("nested_hosts.yml", "hosts:\n" + "  - " * 5_000 + "x\n", "nested deeper than"),
    ("flow_maps.yml", "hosts: " + "{a: " * 10_000, "nested deeper than"),
    ("recursive.yml", "hosts: &h\n  - {name: a, tags: *h}\n", "recursive"),
], ids=lambda value: value if isinstance(value, str) and value.endswith(".yml") else "")
def test_bombs_and_deep_nesting_are_refused_quickly_in_bounded_memory(tmp_path, name, text,
                                                                      words):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(InventoryError) as info:
            load_inventory(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert words in str(info.value)
    refused_in_one_line(info.value, path)
    # Bounded memory is the check (no absolute time in a unit test: under a loaded machine
    # the refusal took 6 s of wall time); an expanding bomb would need gigabytes.
    assert peak < 64 * 2**20, peak


def test_a_large_file_is_refused_without_parsing(tmp_path):
    path = tmp_path / "huge.yml"
    path.write_text("hosts: [" + "{name: a}, " * 200_000 + "]\n")
    tracemalloc.start()
    try:
        with pytest.raises(InventoryError, match=r"larger than 1,000,000 bytes"):
            load_inventory(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Not parsed: a YAML parse of 2.2 MB builds far more than the file's size in objects.
    assert peak < 2 * path.stat().st_size, peak


@pytest.mark.parametrize(("text", "message"), [
    ("hosts:\n  - {name: a}\nhosts:\n  - {name: b}\n",
     "not valid YAML (line 3, column 1): duplicate key 'hosts' (first on line 1)"),
    ("hosts:\n  - name: a\n    threads: 1\n    threads: 2\n",
     "not valid YAML (line 4, column 5): duplicate key 'threads' (first on line 3)"),
    ("scheduler: {port: 1, port: 2}\nhosts: [{name: a}]\n",
     "not valid YAML (line 1, column 22): duplicate key 'port' (first on line 1)"),
    ("hosts:\n  - {name: a, env: {X: '1', X: '2'}}\n",
     "not valid YAML (line 2, column 29): duplicate key 'X' (first on line 2)"),
], ids=["top-level", "host field", "flow mapping", "env"])
def test_duplicate_keys_are_refused_with_the_key_and_both_lines(tmp_path, text, message):
    path = tmp_path / "dup.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(("tagged", "message"), [
    ("!!float hosts", "'hosts' is not a valid !!float"),  # was: ValueError from PyYAML
    ("!!int x", "'x' is not a valid !!int"),
    ("!!bool maybe", "'maybe' is not a valid !!bool"),  # was: KeyError
    ("!!timestamp 2001-13-45", "'2001-13-45' is not a valid !!timestamp"),
    ("!!python/object/apply:os.system ['true']", "could not determine a constructor"),
])
def test_explicit_tags_that_cannot_be_constructed_are_one_line(tmp_path, tagged, message):
    path = tmp_path / "tags.yml"
    path.write_text(f"hosts:\n  - {{name: a, threads: {tagged}}}\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value).startswith(f"{path}: not valid YAML (line 2, column 24): ")
    assert message in str(info.value)


def test_merge_keys_may_be_overridden_without_a_duplicate_error(tmp_path):
    path = tmp_path / "merge.yml"
    path.write_text(VALID_DOCS[2].replace("name: y}", "name: y, threads: 3}"))
    assert [host.threads for host in load_inventory(path).hosts] == [2, 3]


@pytest.mark.parametrize(("raw", "message"), [
    ("hosts:\n  - {name: caf\u00e9}\n".encode("latin-1"),
     "not UTF-8 text (byte 0xe9 on line 2); save the file as UTF-8"),
    ("hosts:\n  - {name: a}\n".encode("utf-16-le"),
     "not valid YAML: control character U+0000 at character 2 is not allowed"),
    (b"hosts:\n  - {name: a\x00}\n",
     "not valid YAML: control character U+0000 at character 20 is not allowed"),
    (b"hosts:\n  - {name: \xff\xfe}\n", "not UTF-8 text (byte 0xff on line 2); save the file as "
     "UTF-8"),
])
def test_wrong_encodings_are_one_line_naming_the_file(tmp_path, raw, message):
    path = tmp_path / "enc.yml"
    path.write_bytes(raw)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_files_with_a_byte_order_mark_load(tmp_path, encoding):
    path = tmp_path / "bom.yml"
    path.write_bytes("hosts:\n  - {name: a, env: {X: 'grüße'}}\n".encode(encoding))
    assert codecs.lookup(encoding) and load_inventory(path).hosts[0].env == {"X": "grüße"}


@pytest.mark.parametrize(("host", "message"), [
    ({"launcher": ["ssh"]}, "hosts[0] 'a': field 'launcher': unknown launcher ['ssh']"),
    ({"memory": "1e400"}, "hosts[0] 'a': field 'memory': must be a size like '2GB' or 'auto', "
     "got '1e400'"),
    ({"memory": float("inf")}, "hosts[0] 'a': field 'memory': must be a size like '2GB' or "
     "'auto', got inf"),
    ({"a b": 1}, "hosts[0] 'a': unknown field 'a b'"),
    ({7: 1}, "hosts[0] 'a': field '7': keys should be strings, got 7"),
    ({"env": {"X": None}}, "hosts[0] 'a': field 'env': names and values must be strings or "
     "numbers, got NoneType in 'X'"),
    ({"env": {"X": [1, 2]}}, "hosts[0] 'a': field 'env': names and values must be strings or "
     "numbers, got list in 'X'"),
    ({"launcher": "ssh", "address": "x", "connect_timeout": float("inf")},
     "hosts[0] 'a': field 'connect_timeout': input should be a finite number, got inf"),
    ({"launcher": "slurm", "submit_timeout": float("nan")},
     "hosts[0] 'a': field 'submit_timeout': input should be a finite number, got nan"),
    ({"threads": "x" * 100_000}, "hosts[0] 'a': field 'threads': must be a positive integer, "
     "got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"),
])
def test_fuzz_findings_are_one_precise_line(host, message):
    with pytest.raises(InventoryError) as info:
        parse_inventory({"hosts": [{"name": "a", **host}]}, source="lab.yml")
    assert str(info.value).startswith(f"lab.yml: {message}"), str(info.value)
    refused_in_one_line(info.value, "lab.yml")


def test_security_is_a_top_level_field():
    assert parse_inventory({"security": "tls", "hosts": [{"name": "a"}]}).security == "tls"


# --- Ansible inventories ---------------------------------------------------------------

ANSIBLE_VARS = ["ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file",
                "ansible_python_interpreter", "clusterbench_workers", "clusterbench_threads",
                "clusterbench_memory", "clusterbench_launcher", "clusterbench_nope"]
ansible_vars = st.one_of(st.none(), st.dictionaries(
    st.one_of(st.sampled_from(ANSIBLE_VARS), scalars), values, max_size=4), values)
ansible_hosts = st.one_of(st.none(), st.dictionaries(names, ansible_vars, max_size=3), values)
groups = st.recursive(
    st.fixed_dictionaries({}, optional={"hosts": ansible_hosts, "vars": ansible_vars}),
    lambda inner: st.fixed_dictionaries({}, optional={
        "hosts": ansible_hosts, "vars": ansible_vars,
        "children": st.one_of(st.dictionaries(names, st.one_of(inner, st.none()), max_size=3),
                              values)}),
    max_leaves=6)
ansible_docs = st.one_of(st.dictionaries(st.one_of(st.sampled_from(["all", "ungrouped", "pis"]),
                                                   names),
                                         st.one_of(groups, values), max_size=3), values)


def imports_or_one_line(path: Path) -> None:
    """What ``inventory import-ansible`` does: convert, then validate the result."""
    start = time.monotonic()
    try:
        parse_inventory(read_ansible(path), source=str(path))
    except InventoryError as error:
        refused_in_one_line(error, path)
    assert time.monotonic() - start < DEADLINE.total_seconds()


@fuzz(400)
@given(ansible_docs)
def test_any_ansible_structure_imports_or_is_one_line(fuzz_dir, data):
    path = fuzz_dir / "ansible.yml"
    path.write_text(dump(data), encoding="utf-8")
    imports_or_one_line(path)


ANSIBLE_TEXT = [
    "all:\n  hosts:\n    pi1: {ansible_host: 10.0.0.1, clusterbench_workers: 2}\n"
    "  children:\n    pis:\n      vars: {ansible_user: pi}\n      hosts: {pi2: null}\n",
    "[pis]\npi1 ansible_host=10.0.0.1\npi2\n\n[pis:vars]\nansible_user=pi\n",
    "# lab\n; also a comment\n[all]\nlocalhost ansible_connection=local\n",
]


@fuzz(200)
@given(st.sampled_from(ANSIBLE_TEXT), mutations)
def test_mutated_ansible_text_imports_or_is_one_line(fuzz_dir, document, edits):
    path = fuzz_dir / "ansible_text.yml"
    path.write_text(mutate(document, edits), encoding="utf-8", errors="surrogatepass")
    imports_or_one_line(path)


def test_an_ini_ansible_inventory_is_read(tmp_path):
    path = tmp_path / "hosts"
    path.write_text(ANSIBLE_TEXT[1])
    pi1, pi2 = read_ansible(path)["hosts"]
    assert (pi1["address"], pi1["user"], pi2["address"], pi2["tags"]) == (
        "10.0.0.1", "pi", "pi2", ["pis"])


# Built-in INI reader: lines of real INI inventories, and pieces that break them.
INI_LINES = [
    "[nodes]", "[cluster:children]", "[all:vars]", "[nodes:vars]", "[head]", "[odd:kind]",
    "nodes", "head", "nowhere", "node[1:4] ansible_user=pi", "node[01:10:3]", "pi-[a:c]",
    "node[1:99999999]", "node[5:1]", "node[a:9]", "node[1:2:0]", "node[1:", "node]1[",
    "localhost ansible_connection=local", "box ansible_connection=docker",
    "pi1:2222 ansible_host=10.0.0.1", "[::1]:22", "pi1: ", "---", "pi2 ansible_port=0x10",
    "pi3 ansible_port=-5", "pi4 ansible_port='22'", "pi5 clusterbench_workers=[1, 2]",
    "pi6 ansible_host=\"{{ x }}\"", "pi7 motd=\"{{ x }}\"", "pi8 user", "pi9 a='b",
    "ansible_user=pi", "ansible_port = 2222", "clusterbench_scheduler_address=127.0.0.1",
    "clusterbench_threads=" + "(" * 300, "clusterbench_memory=" + "[" * 2000,
    "x=" + "9" * 5000, "x=1e400", "x=b'bytes'", "x=...", "x=1j", "x={1: {2: 3}}",
    "ansible_group_priority=high", "ansible_python_interpreter=auto_silent", "# comment",
    "; comment", "", "   ", "\t[nodes] # c", "名[1:2]", "pi\x00", "a=b=c", "=",
]
ini_documents = st.lists(st.sampled_from(INI_LINES), max_size=12).map("\n".join)


def ini_reads_or_one_line(path: Path) -> None:
    """The built-in reader plus validation: an inventory, or one line naming the file."""
    start = time.monotonic()
    try:
        parse_inventory(read_ansible(path, reader="builtin"), source=str(path))
    except InventoryError as error:
        refused_in_one_line(error, path)
    assert time.monotonic() - start < DEADLINE.total_seconds()


@fuzz(400)
@given(ini_documents, mutations)
def test_malformed_ini_inventories_are_one_line(fuzz_dir, document, edits):
    path = fuzz_dir / "hosts.ini"
    path.write_text(mutate(document, edits), encoding="utf-8", errors="surrogatepass")
    ini_reads_or_one_line(path)


@fuzz(150)
@given(st.text(max_size=200))
def test_random_text_as_ini_is_one_line(fuzz_dir, text):
    path = fuzz_dir / "random.ini"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    ini_reads_or_one_line(path)


def test_ansible_host_variables_cannot_collide_with_the_group_tags(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("pis:\n  hosts:\n    pi1: {__tags: 5, ansible_host: 10.0.0.1}\n")
    (host,) = read_ansible(path)["hosts"]
    assert host["tags"] == ["pis"] and host["address"] == "10.0.0.1"


# --- the run command line's list options ------------------------------------------------

IMPORT_PATHS = ("nosuchmodule_cb:thing", "clusterbench:nope", "os:sep", ":", "a:")
HOSTILE_OPTION_TEXT = st.one_of(
    st.text(max_size=24),
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.sampled_from(["1..99999999999999999999", "9" * 5000, "١,٢", "1,2,4..max,8", "max..1",
                     "1,,,,2", ",".join(["1"] * 20_000), ",".join(map(str, range(1, 5000))),
                     "0..max", "-1", "1e9", "1.5", "\x00", "1\n2", "tiny\x1b[2J", "ﬁ", "full ",
                     "montecarlo,montecarlo", "nosuchmodule_cb:thing", "clusterbench:nope",
                     "os:sep", ":", "a:", "distributed,", "threads,threads", " "]),
)


@pytest.fixture(scope="module")
def workloads_imported() -> None:
    """Import every built-in workload (scikit-learn, dask-ml) before the cases: the first
    case would otherwise pay seconds of imports inside its per-case deadline."""
    from clusterbench.workloads.registry import WORKLOADS, resolve

    for name in WORKLOADS:
        resolve(name)


@pytest.mark.usefixtures("workloads_imported")
@fuzz(250)
@given(st.dictionaries(st.sampled_from(["workloads", "size", "schedulers", "workers", "order",
                                        "order-points"]), HOSTILE_OPTION_TEXT, min_size=1,
                       max_size=3),
       st.integers(1, 4096))
def test_hostile_run_list_options_are_valid_or_one_line(options, maximum):
    """argparse → ``narrow`` → workload lookup → worker counts: what ``run`` does with its
    list options before it loads an inventory or starts anything."""
    from clusterbench.api.prepare import check_workloads as _check_workloads
    from clusterbench.cli import build_parser
    from clusterbench.runner.scenario import expand_workers, load_scenario, narrow

    # A workload name with ':' is an import path, and importing runs that module: random
    # text must not import whatever stdlib module it happens to spell (``antigravity``
    # opens a browser).  Only the fixed import-path cases reach the importer.
    assume(":" not in options.get("workloads", "") or options["workloads"] in IMPORT_PATHS)
    argv = ["run", "scaling", *(f"--{key}={value}" for key, value in options.items())]
    args = build_parser().parse_args(argv)
    start = time.monotonic()
    try:
        scenario = narrow(load_scenario(args.scenario), workloads=args.workloads,
                          size=args.size, schedulers=args.schedulers, workers=args.workers,
                          order=args.order, order_points=args.order_points)
        _check_workloads(scenario)
        counts = expand_workers(scenario.workers, maximum)
    except ClusterbenchError as error:
        message = str(error)
        assert message.splitlines() == [message] and "Traceback" not in message, message
        return
    finally:
        assert time.monotonic() - start < DEADLINE.total_seconds()
    assert counts and all(1 <= n <= maximum for n in counts)
