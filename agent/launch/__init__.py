"""Running agents in this process: on real sockets (`real`) or on the simulator (`simulated`)."""
