"""`python -m agent ...` is `gossip-agent ...`."""

from agent.cli import main

raise SystemExit(main())
