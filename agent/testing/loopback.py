"""Whether this machine has the loopback addresses a cluster on 127.0.0.N needs.

Linux routes all of 127.0.0.0/8 to loopback; macOS has only 127.0.0.1 until each address is
aliased. Fixtures check first and skip with the command that fixes it, instead of failing
somewhere inside an agent's bind.
"""

from __future__ import annotations

from agent.launch.sim_http import nth_address
from agent.processes.supervisor import can_bind

DEFAULT_BIND_BASE = "127.0.0.160"
"""Where the test kit's loopback addresses start: clear of `gossip-agent cluster`'s .11-.15
and of this project's end-to-end tests."""


def addresses(base: str, count: int) -> list[str]:
    """`count` consecutive loopback addresses from `base`."""
    return [nth_address(base, k) for k in range(count)]


def unbindable(base: str, count: int) -> list[str]:
    """The addresses among the `count` from `base` that cannot be bound here."""
    return [address for address in addresses(base, count) if not can_bind(address)]


def skip_reason(base: str, count: int) -> str | None:
    """Why a cluster of `count` agents from `base` cannot run here, or None if it can."""
    missing = unbindable(base, count)
    if not missing:
        return None
    aliases = "; ".join(f"sudo ifconfig lo0 alias {a} up" for a in missing[:3])
    more = " ..." if len(missing) > 3 else ""
    return (
        f"cannot bind {', '.join(missing)} (127.0.0.0/8 beyond .1 is not configured here; "
        f"on macOS add aliases: {aliases}{more}; or choose --agent-bind-base)"
    )
