"""Watching the service run: metrics, the access log and request ids, health, tracing, and the
embedded database's lifecycle (README "Watching it run")."""
