"""API routers, one module per endpoint family."""
