"""The web console: the built single-page app (``web/`` -> ``console/dist``) served by the API process.

- ``/assets/*``: content-hashed files, cached for a year (``immutable``);
- any other GET that is not the API or an operations path: ``index.html`` (client-side routes), never
  cached, so a deploy is picked up on the next navigation; a path with ``/api/v1/`` further down (the
  API under a prefix it does not have) gets the API's 404;
- ``/api/docs`` and ``/api/redoc``: Swagger UI and ReDoc from files copied into the dist at build time
  (no CDN: an offline install shows the same pages);
- every answer carries a Content-Security-Policy that allows only this origin.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

DIST = Path(__file__).parent / "dist"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# ReDoc injects <style> elements and runs its search in a blob: worker; only its page gets these
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; worker-src 'self' blob:"
RESERVED = ("api/", "health", "ready", "metrics")
# the API under a prefix it does not have (an SDK's base URL with a path too many, "/foo/api/v1/..."):
# the API's 404, whose message names the root URL, not the console's page with a 200 an SDK reads
# as a ruleset that does not parse or a stream that says nothing
API_BELOW = "/api/v1/"
LONG_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experimently</title>
</head><body><h1>Experimently</h1><p>The console is not built. Run <code>make install</code> (it needs
Node 20 and npm), or use the API at <a href="/api/openapi.json">/api/openapi.json</a>.</p></body></html>"""

ICON = '<link rel="icon" type="image/svg+xml" href="/favicon.svg">'  # the console's (else /favicon.ico: 404)

SWAGGER = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experimently API</title>{ICON}
<link rel="stylesheet" href="/docs-assets/swagger-ui/swagger-ui.css"></head><body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/docs-assets/swagger-init.js"></script></body></html>"""

REDOC = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experimently API</title>
{ICON}</head><body><redoc spec-url="/api/openapi.json"></redoc>
<script src="/docs-assets/redoc/redoc.standalone.js"></script></body></html>"""


def _headers(cache: str, csp: str = CSP) -> dict[str, str]:
    # X-Content-Type-Options and the other security headers: RequestMiddleware's, on every answer
    return {"Cache-Control": cache, "Content-Security-Policy": csp}


def _inside(base: Path, relative: str) -> Path | None:
    """``base / relative`` when it is a file under ``base`` (no ``..`` escapes)."""
    target = (base / relative).resolve()
    if target.is_file() and target.is_relative_to(base.resolve()):
        return target
    return None


def install_console(app: FastAPI, dist: Path | None = None) -> None:
    """Add the API reference pages and the console as the router's fallback (after every route)."""

    @app.get("/api/docs", include_in_schema=False)
    async def swagger() -> Response:
        return HTMLResponse(SWAGGER, headers=_headers(NO_CACHE))

    @app.get("/api/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return HTMLResponse(REDOC, headers=_headers(NO_CACHE, DOCS_CSP))

    original = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        """Runs only when no route matched (a route added later still wins): console files and pages
        for GET and HEAD outside the API; everything else gets the API's 404."""
        path = str(scope.get("path", "/")).lstrip("/")
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not path.startswith(RESERVED)
            and API_BELOW not in "/" + path
        ):
            response = _console_response(dist if dist is not None else DIST, path)
            if response is not None:
                await response(scope, receive, send)
                return
        await original(scope, receive, send)

    app.router.default = fallback


def _console_response(root: Path, path: str) -> Response | None:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503 if path == "" else 404, headers=_headers(NO_CACHE))
    if path.startswith("assets/"):
        asset = _inside(root, path)
        return None if asset is None else FileResponse(asset, headers=_headers(LONG_CACHE))
    if "." in path.rsplit("/", 1)[-1]:  # a file name (favicon.svg, docs-assets/...): the file or a 404
        static = _inside(root, path)
        return None if static is None else FileResponse(static, headers=_headers("public, max-age=3600"))
    return FileResponse(index, media_type="text/html", headers=_headers(NO_CACHE))
