"""The watcher: poll one Nomad agent, report servers failed too long, optionally reap them."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from server_watcher.tracker import FailureTracker


@dataclass(frozen=True)
class NomadAgent:
    """The two calls of Nomad's Agent HTTP API the watcher needs."""

    address: str
    """Base URL, e.g. `http://127.0.0.1:4646`."""
    timeout: float = 10.0

    def members(self) -> dict[str, str]:
        """{member name: status} from `/v1/agent/members`."""
        with urllib.request.urlopen(f"{self.address}/v1/agent/members", timeout=self.timeout) as r:
            body = json.loads(r.read())
        return {m["Name"]: m["Status"] for m in body["Members"]}

    def force_leave(self, node: str) -> None:
        query = urllib.parse.urlencode({"node": node})
        request = urllib.request.Request(
            f"{self.address}/v1/agent/force-leave?{query}", data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout):
            pass


class ServerWatcher:
    """Polls an agent and reports (and with `reap`, force-leaves) long-failed servers."""

    def __init__(
        self,
        agent: NomadAgent,
        threshold: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self.tracker = FailureTracker(threshold)
        self.clock = clock

    def poll(self) -> list[str]:
        """One observation; the servers failed for at least the threshold."""
        return self.tracker.observe(self.clock(), self.agent.members())

    def reap(self) -> list[str]:
        """Force-leave every server `poll` reports; the ones force-left."""
        stale = self.poll()
        for name in stale:
            self.agent.force_leave(name)
            self.tracker.failed_since.pop(name, None)
        return stale
