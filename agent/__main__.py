"""`python -m agent ...` is `gossip-agent ...`."""

from agent.cli.main import main

raise SystemExit(main())
