"""GraphiQL served by the platform itself: government networks have no internet, so the page
and its scripts (React, GraphiQL and its explorer, at the versions and SRI digests strawberry
pins) come from `api/static/graphiql/`, vendored from the npm registry; the page names no
external address."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/static/graphiql"


@cache
def page() -> str:
    return (files("api") / "static" / "graphiql" / "index.html").read_text(encoding="utf-8")


def assets_route() -> Mount:
    return Mount(ASSETS_PATH, app=StaticFiles(packages=[("api", "static/graphiql")]), name="graphiql")
