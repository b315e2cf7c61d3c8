"""The embeddable widget's files and the demo page that embeds it."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.auth import mint_end_user_token
from api.deps import ResourcesDep

router = APIRouter(tags=["widget"])
STATIC = Path(__file__).resolve().parent.parent / "static"
DEMO_CUSTOMER = "james_li_5688"


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    """The widget script (no framework, ~10 KB)."""
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript",
        headers={"cache-control": "public, max-age=300"},
    )


@router.get("/widget.css", include_in_schema=False)
async def widget_css() -> FileResponse:
    """The widget stylesheet."""
    return FileResponse(
        STATIC / "widget.css",
        media_type="text/css",
        headers={"cache-control": "public, max-age=300"},
    )


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def demo_page(res: ResourcesDep) -> HTMLResponse:
    """A demo storefront with the widget signed in as a demo customer (development only)."""
    if not res.demo_key:
        return HTMLResponse("<!doctype html><title>SupportFlow</title><p>SupportFlow API.</p>")
    token = mint_end_user_token(res.token_secret, res.settings.tenant, DEMO_CUSTOMER, ttl_s=3600)
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    page = page.replace("{{KEY}}", html.escape(res.demo_key)).replace(
        "{{TOKEN}}", html.escape(token)
    )
    return HTMLResponse(page.replace("{{CUSTOMER}}", DEMO_CUSTOMER))
