"""Helpers shared by the tests, imported as `tests.helpers.<module>`.

- `api`: assertions on the Agent HTTP API's answers (plain-text errors, member statuses).
- `core`: build gossip cores, craft packets, move bytes between cores in virtual time.
- `raft`: build raft cores, drive them at explicit times, move their messages.
- `recorder`: `RecorderCore`, a scripted endpoint for testing drivers.
- `sim`: joined `SimCluster`s and virtual-time waits for the simulation tests.

`tests` is a package (pytest's `pythonpath` puts the repository root on `sys.path`), so the
test modules in it are imported under package-qualified names. `tests/e2e` is deliberately
not a package: its modules import `cluster_harness` as a plain module beside them.
"""
