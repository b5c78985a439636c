"""Network plumbing of the lab: one bridge, one network namespace + veth pair per fake host.

The bridge holds the subnet's first address in the root namespace; each host's
namespace gets ``eth0`` (the veth peer) with its own address and a default route
via the bridge address.  ``net.ipv4.ip_forward`` is left alone (0 here), so
nothing from a fake host reaches beyond the bridge.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from clusterbench.errors import LabError
from clusterbench.lab.system import run

NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")
# RFC 1918 only: Python's is_private also admits TEST-NETs, which real machines use.
PRIVATE = tuple(
    ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def lab_subnet(text: str, hosts: int) -> ipaddress.IPv4Network:
    """Validate *text* as a private IPv4 subnet with room for the bridge and *hosts* hosts."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise LabError(f"lab subnet {text!r}: expected a network like 10.203.0.0/24") from None
    if not isinstance(net, ipaddress.IPv4Network) or not any(net.subnet_of(p) for p in PRIVATE):
        raise LabError(
            f"lab subnet {text!r}: must be a private IPv4 range (10/8, 172.16/12, 192.168/16)"
        )
    if net.num_addresses - 3 < hosts:
        raise LabError(f"lab subnet {text!r}: too small for {hosts} hosts plus the bridge")
    return net


def subnet_conflict(net: ipaddress.IPv4Network) -> str | None:
    """Describe an existing route or address overlapping *net*, or None when it is free."""
    for route in json.loads(run(["ip", "-4", "-j", "route", "show", "table", "all"]) or "[]"):
        dst = route.get("dst", "default")
        if dst in ("default", "0.0.0.0/0"):
            continue
        other = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if other.overlaps(net):
            return f"route {dst} via {route.get('dev', '?')}"
    return None


def link_exists(dev: str) -> bool:
    """Whether network device *dev* exists in the root namespace."""
    return (SYS_NET / dev).exists()


def netns_exists(name: str) -> bool:
    """Whether the named network namespace exists."""
    return (NETNS_DIR / name).exists()


def create_bridge(bridge: str, address: str, prefixlen: int) -> None:
    """Create *bridge* with *address*/*prefixlen* and bring it up."""
    run(["ip", "link", "add", bridge, "type", "bridge"])
    if IPV6_CONF.exists():
        # No self-made IPv6 link-local address: the lab uses only the addresses it assigns.
        (IPV6_CONF / bridge / "disable_ipv6").write_text("1")
    run(["ip", "addr", "add", f"{address}/{prefixlen}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def create_host_network(netns: str, veth: str, bridge: str, cidr: str, gateway: str) -> None:
    """Make namespace *netns* with ``eth0`` at *cidr* (``10.203.0.2/24``) plugged into *bridge*."""
    inside = ["ip", "-n", netns]
    no_link_local = ["addrgenmode", "none"] if IPV6_CONF.exists() else []
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    run(["ip", "link", "set", veth, "master", bridge, *no_link_local, "up"])
    run([*inside, "addr", "add", cidr, "dev", "eth0"])
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "link", "set", "eth0", *no_link_local, "up"])
    run([*inside, "route", "add", "default", "via", gateway])


def delete_host_network(netns: str, veth: str) -> None:
    """Remove *veth* (both ends) and *netns*; absent ones are skipped."""
    if link_exists(veth):
        run(["ip", "link", "del", veth])
    if netns_exists(netns):
        run(["ip", "netns", "del", netns])


def delete_bridge(bridge: str) -> None:
    """Remove *bridge* if it exists."""
    if link_exists(bridge):
        run(["ip", "link", "del", bridge])


def pids_in(netns: str) -> list[int]:
    """PIDs of the processes inside *netns* (``ip netns pids``); [] when it does not exist."""
    if not netns_exists(netns):
        return []
    return [int(pid) for pid in run(["ip", "netns", "pids", netns]).split()]
