"""Drivers that carry a sans-IO core's outputs to a network: asyncio sockets or the simulator."""

from gossip import Endpoint, OutputSink, flush_outputs

__all__ = ["Endpoint", "OutputSink", "flush_outputs"]
