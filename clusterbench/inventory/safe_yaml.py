"""Read a YAML file a user wrote, refusing hostile input in one line that names the file.

``yaml.safe_load`` on an arbitrary file can raise ``UnicodeDecodeError`` (Latin-1,
UTF-16 without BOM), ``RecursionError`` (10,000 nested ``[``), silently keep the last
of two equal keys, and build billion-laughs alias structures that are small in memory
but take forever to walk, print or validate.  :func:`read_yaml` bounds all of that:

* at most :data:`MAX_BYTES` bytes; UTF-8, or UTF-8/16/32 with a byte-order mark;
* at most :data:`MAX_DEPTH` levels of nesting;
* at most :data:`MAX_NODES` nodes once every alias is expanded, and no alias that
  refers to a node containing it (a recursive structure);
* no duplicate key in a mapping (YAML requires unique keys; PyYAML keeps the last).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from clusterbench.errors import InventoryError

#: Largest file read (inventories are a few kB; a 1 MB one is already a mistake).
MAX_BYTES = 1_000_000
#: Deepest nesting of sequences/mappings (an inventory needs about 5).
MAX_DEPTH = 64
#: Most nodes after expanding aliases (a 1,000-host inventory has about 40,000).
MAX_NODES = 200_000
#: Longest error message; the host and field come first, the offending value last.
MAX_MESSAGE = 400

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_MERGE = "tag:yaml.org,2002:merge"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with a nesting limit and duplicate-key detection."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, LookupError):
            # SafeConstructor's own bugs on explicit tags: `!!float hosts` (ValueError),
            # `!!timestamp x` (TypeError), `!!bool maybe` (KeyError)...
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise ConstructorError(None, None, f"{short(node.value)} is not a valid {tag}",
                                   node.start_mark) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node)
                try:
                    first: Any = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # unhashable: SafeConstructor reports it
                    continue
                if first is not key_node.start_mark:
                    raise ConstructorError(
                        None, None, f"duplicate key {short(key)} (first on line {first.line + 1})",
                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _ansible_vault(loader: _BoundedLoader, node: Node) -> dict[str, str]:
    """Ansible's ``!vault`` value as ``ansible-inventory --list`` prints it, so that both
    readers hand it to the same decryption (:func:`~.ansible_readers.decrypt_vault`)."""
    return {"__ansible_vault": str(loader.construct_scalar(node))}  # type: ignore[arg-type]


def _ansible_unsafe(loader: _BoundedLoader, node: Node) -> Any:
    """Ansible's ``!unsafe`` marks a value that is not templated: the value itself."""
    if isinstance(node, ScalarNode):
        return loader.construct_scalar(node)
    raise ConstructorError(None, None, "!unsafe on a list or mapping", node.start_mark)


# Ansible's own tags, in its YAML inventories and vars files (a vault-encrypted value)
_BoundedLoader.add_constructor("!vault", _ansible_vault)
_BoundedLoader.add_constructor("!unsafe", _ansible_unsafe)


def read_yaml(path: str | Path, what: str = "inventory") -> Any:
    """Parse the YAML file at *path* within the bounds of this module.

    Parameters
    ----------
    path
        The file to read.
    what
        What the file is, for messages (``"inventory"``, ``"Ansible inventory"``).

    Returns
    -------
    Any
        The document (None for an empty file).

    Raises
    ------
    InventoryError
        One line naming the file (and line and column where YAML knows them).
    """
    path = Path(path)
    text = _read_text(path, what)
    try:
        loader = _BoundedLoader(text)  # checks every character: NUL, other controls
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expanded_size(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise InventoryError(one_line(f"{path}: not valid YAML{_where(exc)}: {_problem(exc)}")
                             ) from None


def _read_text(path: Path, what: str) -> str:
    try:
        # open() of a FIFO waits for a writer, forever if none comes; devices never end
        if path.exists() and not path.is_dir() and not path.is_file():
            raise InventoryError(one_line(
                f"{path}: not a regular file (a pipe or device); write the {what} to a file"))
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InventoryError(one_line(f"{path}: no such {what} file")) from None
    except IsADirectoryError:
        raise InventoryError(one_line(f"{path}: is a directory, not an {what} file")) from None
    except OSError as exc:
        raise InventoryError(one_line(f"{path}: cannot read ({exc.strerror or exc})")) from None
    if len(raw) > MAX_BYTES:
        raise InventoryError(one_line(f"{path}: larger than {MAX_BYTES:,} bytes; not an {what}"))
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        byte = raw[exc.start:exc.start + 1].hex()
        line = raw[:exc.start].count(b"\n") + 1
        raise InventoryError(one_line(
            f"{path}: not {encoding.upper().replace('-SIG', '')} text (byte 0x{byte} on line "
            f"{line}); save the file as UTF-8")) from None


def _check_expanded_size(root: Node) -> None:
    """Refuse a document whose aliases expand past :data:`MAX_NODES` or refer to themselves.

    Linear in the number of distinct nodes: each node's expanded size is computed once.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise ComposerError(None, None, f"more than {MAX_NODES:,} values once aliases "
                                    "are expanded (an alias bomb?)", node.start_mark)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ComposerError(None, None, "an alias refers to a node that contains it "
                                "(a recursive structure)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character, e.g. NUL
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "?")
        return f"control character U+{code:04X} at character {exc.position + 1} is not allowed"
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    return problem or (str(exc).splitlines() or [type(exc).__name__])[0]


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to *limit* characters (error messages quote user values)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def one_line(message: str) -> str:
    """*message* on one line (line breaks and other control characters escaped), at most
    :data:`MAX_MESSAGE` characters."""
    text = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in message)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"

