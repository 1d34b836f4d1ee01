"""What the agent reports about itself as a process (`stats.runtime` of `/v1/agent/self`)."""
