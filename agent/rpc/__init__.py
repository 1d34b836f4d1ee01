"""The agent's RPC port (4647): raft between servers, and clients' calls to servers.

Real Nomad speaks msgpack-RPC over yamux there; nothing outside a Nomad cluster dials it,
so this agent carries its own small framed protocol instead (see `wire`). What travels is
one-way messages, as between etcd's raft nodes: a reply is just another message back to the
sender's RPC address. The cores that produce and consume them (`server_rpc`, `client_rpc`)
are sans-IO, so the same code runs over asyncio TCP (`aio`) and the simulator (`sim`).
"""
