"""The OpenSSH client config of SSH hosts, read by asyncssh's own parser.

asyncssh applies ``~/.ssh/config`` when it connects (``Host`` patterns, ``Match``,
``Include``, ``%`` tokens); clusterbench needs the same answers before it connects:
the address a worker binds to and the scheduler listens on is the ``HostName``, not
the alias, and ``inventory check`` / ``up --dry-run`` show where every value came
from.  The inventory's fields win over the config, as options on ``ssh``'s command
line do.  ``ProxyJump`` is opened by :mod:`.connections` (not by asyncssh), so that
the jump host's connections are pooled, bounded by its ``max_startups`` and closed on
``down`` like every other.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clusterbench.errors import InventoryError
from clusterbench.launchers.ssh.host import SSHHost

DEFAULT_CONFIG = "~/.ssh/config"
INVENTORY = "inventory"


def config_paths(host: SSHHost) -> list[Path]:
    """The config files asyncssh reads for *host*: ``ssh_config:`` (like ``ssh -F``), else
    ``~/.ssh/config`` when it is readable (asyncssh's own default)."""
    if host.ssh_config:
        return [Path(host.ssh_config).expanduser()]
    default = Path(DEFAULT_CONFIG).expanduser()
    return [default] if os.access(default, os.R_OK) else []


def lookup(host: SSHHost, target: str) -> dict[str, Any]:
    """``HostName``, ``Port``, ``User``, ``IdentityFile`` and ``ProxyJump`` for *target*
    from *host*'s config files (absent options are missing from the result).

    Raises
    ------
    InventoryError
        A config file cannot be read or parsed.
    """
    paths = config_paths(host)
    try:
        return dict(_lookup(tuple(str(path) for path in paths), _mtimes(paths), target))
    except (OSError, ValueError, RecursionError) as exc:  # ConfigParseError is a ValueError
        where = ", ".join(str(p) for p in paths)
        # asyncssh follows Include without a depth limit (OpenSSH stops at 16)
        problem = ("an Include loop (a file includes itself, directly or through others)"
                   if isinstance(exc, RecursionError) else
                   getattr(exc, "strerror", None) or exc)
        raise InventoryError(f"host {host.name!r}: ssh_config {where}: {problem}") from None


def _mtimes(paths: list[Path]) -> tuple[tuple[int, int], ...]:
    """When each config file last changed, and its size ((0, -1) when it cannot be read:
    the parse says why)."""
    out = []
    for path in paths:
        try:
            stat = path.stat()
            out.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            out.append((0, -1))
    return tuple(out)


# 4,096: one entry per host of the largest inventories; at 256, 300 hosts evicted each
# other between the passes of one command (1,200 parses of a 300-block config, 11.6 s).
@functools.lru_cache(maxsize=4096)
def _lookup(paths: tuple[str, ...], mtimes: tuple[tuple[int, int], ...], target: str
            ) -> tuple[tuple[str, Any], ...]:
    """One parse per config and target while the files are unchanged (*mtimes* is part of
    the key): a host is resolved several times per command, and every parse runs the
    config's ``Match exec`` commands again (2,000 ``Host`` blocks: 11 s for 50 hosts)."""
    from asyncssh.config import SSHClientConfig

    config = SSHClientConfig.load(None, [Path(path) for path in paths], False, False, False,
                                  getpass.getuser(), (), target, ())
    found = {option: config.get(option) for option in
             ("Hostname", "Port", "User", "IdentityFile", "ProxyJump")}
    return tuple((option, tuple(value) if isinstance(value, list) else value)  # immutable:
                 for option, value in found.items()                             # shared
                 if value not in (None, [], ()))


def resolve(host: SSHHost) -> SSHHost:
    """*host* with its connection settings resolved through its SSH config (see module)."""
    target = host.address or host.name
    found = lookup(host, target)
    given = host.model_fields_set
    label = f"ssh_config {_shown(config_paths(host))}"
    sources: list[tuple[str, str, str]] = []

    def pick(field: str, option: str, default: Any, default_origin: str) -> Any:
        if field in given and field != "address":
            value, origin = getattr(host, field), INVENTORY
        elif option in found:
            value, origin = found[option], f"{label}: {option.replace('Hostname', 'HostName')}"
        else:
            value, origin = default, default_origin
        if value not in (None, (), []):
            shown = " ".join(value) if isinstance(value, list | tuple) else str(value)
            sources.append((field, shown, origin))
        return value

    address = pick("address", "Hostname", target,
                   INVENTORY if "address" in given else "name")
    port = pick("port", "Port", 22, "default")
    user = pick("user", "User", None, "default")
    identity = host.identity  # only the inventory's are passed; asyncssh reads the config's
    if host.identity:
        sources.append(("identity", " ".join(host.identity), INVENTORY))
    elif "IdentityFile" in found:
        sources.append(("identity", " ".join(found["IdentityFile"]), f"{label}: IdentityFile"))
    jump = pick("proxy_jump", "ProxyJump", None, "default")
    if isinstance(jump, str) and jump.lower() == "none":
        jump = None
    _check_config_values(host, label, found)
    resolved = host.model_copy(update={"address": str(address), "port": int(port),
                                       "user": user, "identity": identity,
                                       "proxy_jump": jump})
    resolved._target = target
    resolved._sources = tuple(sources)
    return resolved


def _check_config_values(host: SSHHost, label: str, found: dict[str, Any]) -> None:
    """The config's HostName and Port pass the checks the inventory's address and port
    get (``-oProxyCommand=...``, ``user@host`` or port 99999 in a config file too).

    Raises
    ------
    InventoryError
        Naming the host, the config file(s) and the option.
    """
    from clusterbench.inventory.model import address_problem

    name = found.get("Hostname")
    problem = address_problem(str(name)) if name is not None else None
    if problem:
        problem = problem.replace("'user:'", "User").replace("'port:'", "Port")
        raise InventoryError(f"host {host.name!r}: {label}: HostName {str(name)!r}: {problem}")
    port = found.get("Port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise InventoryError(f"host {host.name!r}: {label}: Port {port} is not a port "
                             "(1-65535)")


def _shown(paths: list[Path]) -> str:
    home = str(Path.home())
    text = ", ".join(str(p) for p in paths) or "(none)"
    return text.replace(home, "~", 1) if text.startswith(home) else text


#: Most jump hosts between this machine and a host, counting each jump host's own
#: ``ProxyJump``: OpenSSH has no bound but follows a loop until it runs out of descriptors.
MAX_JUMPS = 8


def jump_host(host: SSHHost) -> SSHHost | None:
    """The host to tunnel through to reach the resolved *host* (its last ``ProxyJump``
    hop), or None.

    As OpenSSH's ``ssh -J a,b target``: *b* is reached through *a* (the earlier hops become
    its ``proxy_jump``), and the first hop is reached as its own config says, including
    its own ``ProxyJump`` (nested bastions).

    Raises
    ------
    InventoryError
        A hop is not ``[ssh://][user@]host[:port]``.
    """
    if not host.proxy_jump:
        return None
    *before, last = [hop.strip() for hop in host.proxy_jump.split(",") if hop.strip()]
    user, _, rest = last.removeprefix("ssh://").rpartition("@")
    address, port = rest, None
    match = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", rest)
    if match:
        address, port = match.group(1), int(match.group(2))
    fields: dict[str, Any] = {
        "launcher": "ssh", "name": re.sub(r"[^A-Za-z0-9_.-]", "_", address).lstrip("_.-") or "jump",
        "address": address, "known_hosts": host.known_hosts, "ssh_config": host.ssh_config,
        "connect_timeout": host.connect_timeout}
    if user:
        fields["user"] = user
    if port is not None:
        fields["port"] = port
    if before:
        fields["proxy_jump"] = ",".join(before)
    try:
        jump = SSHHost(**fields)
    except ValidationError as exc:  # the hop's user, address or port
        error = exc.errors(include_url=False)[0]
        field = f"{error['loc'][0]}: " if error["loc"] else ""
        problem = str(error["msg"]).removeprefix("Value error, ")
        problem = problem[:1].lower() + problem[1:]
        raise InventoryError(f"host {host.name!r}: proxy_jump {last!r}: {field}{problem}"
                             ) from None
    if "IdentityFile" not in lookup(jump, address) and host.identity:
        jump = jump.model_copy(update={"identity": host.identity})  # the target's key
    return jump.effective()


def jump_chain(host: SSHHost) -> list[SSHHost]:
    """Every jump host on the way to the resolved *host*, nearest to it first.

    Raises
    ------
    InventoryError
        A hop is malformed, or the chain loops (a host reached through itself) or is
        longer than :data:`MAX_JUMPS`.
    """
    chain: list[SSHHost] = []
    seen = {(host.address, host.port)}
    current = host
    while (jump := jump_host(current)) is not None:
        if (jump.address, jump.port) in seen or len(chain) >= MAX_JUMPS:
            route = " -> ".join(f"{j.address}:{j.port}" for j in [*reversed(chain), jump])
            raise InventoryError(f"host {host.name!r}: ProxyJump goes round in a loop or past "
                                 f"{MAX_JUMPS} hops ({route}); check each jump host's own "
                                 "ProxyJump")
        seen.add((jump.address, jump.port))
        chain.append(jump)
        current = jump
    return chain
