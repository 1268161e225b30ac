"""The API's documentation pages, /docs (Swagger UI) and /redoc, with every script, style sheet and icon
served by the service itself: FastAPI's own pages load them from a public CDN, which newsroom networks
often block, and which would see every visit.

The assets come from the ``fastapi-offline`` package (Swagger UI 5 and ReDoc 2): Swagger UI 4, as
``swagger-ui-bundle`` ships it, cannot read the OpenAPI 3.1 schema FastAPI writes.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: where the pages' assets are served
ASSETS_URL = "/docs-assets"
#: the browser fetches nothing from another host for these pages, whatever their scripts hold (ReDoc's footer
#: loads its logo from its maker's CDN); inline script and styles, data: images and blob: workers are theirs
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:"
)
#: Swagger UI's validator badge would send the schema's address to the public validator.swagger.io
SWAGGER_PARAMETERS = {"validatorUrl": None}


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _self_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def _root(request: Request) -> str:
    """The prefix a proxy serves the service under, so that the pages' links keep working behind it."""
    return request.scope.get("root_path", "").rstrip("/")


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve both pages and their assets; build the app with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _self_only(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - API",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                swagger_ui_parameters={**SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})},
            )
        )

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _self_only(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - API",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
