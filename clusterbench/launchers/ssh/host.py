"""The inventory model of SSH hosts (pure pydantic; the rest of the package uses it).

``address``, ``port``, ``user``, ``identity`` and ``proxy_jump`` may come from the
OpenSSH client config (``ssh_config:``, default ``~/.ssh/config``) as asyncssh reads it:
:meth:`SSHHost.effective` returns the host with them resolved (inventory fields win),
and remembers where each came from (:mod:`.sshconfig`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator

from clusterbench.inventory.model import NO_SPACES, Count, HostBase, address_problem


class SSHHost(HostBase):
    """Workers started over SSH with asyncssh.

    ``address`` defaults to the name, looked up in the SSH config (``Host`` aliases,
    ``HostName``).  ``known_hosts`` is a path (default: ``~/.ssh/known_hosts``); host
    keys are always checked, and an unknown key is an error that says how to accept it.
    ``proxy_jump`` (or the config's ``ProxyJump``) reaches the host through another
    SSH host (``[user@]host[:port]``, comma-separated for a chain; ``none``: direct).
    """

    launcher: Literal["ssh"]
    address: Annotated[str, Field(min_length=1)] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    user: Annotated[str, Field(min_length=1, pattern=NO_SPACES)] | None = None
    # (a leading '-' is refused below: the dashboard's `ssh -L` hint would read it as an option)
    identity: tuple[str, ...] = ()
    known_hosts: str | None = None
    ssh_config: Annotated[str, Field(min_length=1)] | None = None
    # [user@]host[:port][,...] as OpenSSH's -J takes it: no spaces
    proxy_jump: Annotated[str, Field(min_length=1, pattern=NO_SPACES)] | None = None
    setup: tuple[str, ...] = ()
    connect_timeout: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    max_startups: Count = 4
    cpus: Count | None = None
    workers: Count = 1
    # Set on the resolved copy only: the name asyncssh looks up in the SSH config, and
    # ``(field, shown value, origin)`` for ``inventory check`` / ``up --dry-run``.
    _target: str | None = PrivateAttr(default=None)
    _sources: tuple[tuple[str, str, str], ...] | None = PrivateAttr(default=None)

    @field_validator("identity", "setup", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("user")
    @classmethod
    def _not_an_option(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("-"):
            raise ValueError(f"a user name cannot start with '-', got {value!r}")
        return value

    @field_validator("address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        problem = address_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    def ssh_target(self) -> str:
        """What asyncssh connects to and looks up in the SSH config (alias or address)."""
        return self._target or self.address or self.name

    def effective(self) -> SSHHost:
        """This host with address, port, user, identity and jump host resolved through
        the SSH config (imports asyncssh's config parser on first use).

        Raises
        ------
        InventoryError
            The config file cannot be read or parsed.
        """
        if self._sources is not None:
            return self
        from clusterbench.launchers.ssh.sshconfig import resolve

        return resolve(self)

    def sources(self) -> list[str]:
        """``FIELD VALUE (ORIGIN)`` lines of the resolved connection settings."""
        return [f"{field} {value} ({origin})"
                for field, value, origin in self.effective()._sources or ()]
