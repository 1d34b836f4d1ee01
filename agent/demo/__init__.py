"""The teaching demo: a simulated cluster of real agents that a browser can watch and break.

`gossip-agent demo` (agent/cli/demo_command.py) builds a `DemoWorld` (world.py) on the
simulator, serves its page and control API (api.py) beside each node's Nomad API, and paces
virtual time to the wall clock. One concept per module: settings, gossip-only nodes, the world,
what each node believes (views.py), the timeline, packets in flight, scenarios, the publisher
of deltas, the HTTP app and the server that ties them together.
"""
