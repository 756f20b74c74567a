"""ASGI entry point for uvicorn: `uvicorn api.asgi:app`. Logging is set up here too, so a
server started by hand writes the same lines as `credit serve` (README "Watching it run"), and
a `CREDIT_*` variable nothing reads is warned about here as the CLI does (each worker process
imports this module, so each warns once)."""

import logging
import os

from .app import create_app
from .environment import unknown_variables
from .observe.logs import configure

configure()
for _warning in unknown_variables(os.environ):  # a misspelt name is not silently ignored
    logging.getLogger("credit.config").warning("%s", _warning)
app = create_app()
