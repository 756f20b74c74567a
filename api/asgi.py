"""ASGI entry point for uvicorn: `uvicorn api.asgi:app`. Logging is set up here too, so a
server started by hand writes the same lines as `credit serve` (README "Watching it run")."""

from .app import create_app
from .observe.logs import configure

configure()
app = create_app()
