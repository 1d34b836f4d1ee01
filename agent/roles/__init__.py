"""The two halves of a Nomad agent: the server (serf + raft) and the client (RPC to servers)."""
