"""Agents as child processes: spawning them, supervising a cluster of them, the example topology."""
