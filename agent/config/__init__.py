"""The agent's configuration: Settings from flags, files and env; listeners; Nomad's view of it."""
