"""Reports Nomad servers failed longer than a threshold, and can force-leave them."""

from server_watcher.tracker import FailureTracker
from server_watcher.watcher import NomadAgent, ServerWatcher

__all__ = ["FailureTracker", "NomadAgent", "ServerWatcher"]
