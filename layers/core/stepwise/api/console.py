"""``GET /console``: the web console's static assets, built from ``console/`` by ``make console``
into ``console_assets/`` (committed, so the stack ships them with no Node at deploy time).

No key is needed to load the page: it holds no data, and it calls the API with the key the user
types, in the ``Authorization`` header. Hashed assets are cached for a year, the page is
revalidated by its ETag, and every answer is gzipped for a client that accepts it (Mangum
base64-encodes a gzipped body and API Gateway's HTTP API decodes it back to bytes).
"""

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

from stepwise.core.errors import NotFound

ASSETS = Path(__file__).with_name("console_assets")
INDEX = "index.html"
_NOT_SERVED = frozenset({"manifest.json"})

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# The page's names never change, so it is revalidated; the bundles' names carry their hash.
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
# The page may load only its own scripts and styles and talk only to this API; no framing, so
# nobody can overlay the approve button (clickjacking).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str
    cache_control: str
    etag: str


@cache
def assets() -> dict[str, Asset]:
    """Every servable asset by file name, read and compressed once per process."""
    found = {}
    for path in sorted(ASSETS.glob("*")):
        if path.name in _NOT_SERVED or path.suffix not in CONTENT_TYPES:
            continue
        body = path.read_bytes()
        found[path.name] = Asset(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            content_type=CONTENT_TYPES[path.suffix],
            cache_control=PAGE_CACHE if path.name == INDEX else ASSET_CACHE,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
    return found


def accepts_gzip(accept_encoding: str) -> bool:
    """``gzip`` listed without ``q=0`` (RFC 9110 12.5.3)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            try:
                return not params.strip().startswith("q=") or float(q) > 0
            except ValueError:
                return False
    return False


@router.api_route("/console", methods=["GET", "HEAD"])
@router.api_route("/console/", methods=["GET", "HEAD"])
def console_page(request: Request) -> Response:
    return _serve(request, INDEX)


@router.api_route("/console/{name}", methods=["GET", "HEAD"])
def console_asset(request: Request, name: str) -> Response:
    return _serve(request, name)


def _serve(request: Request, name: str) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise NotFound("console asset", name)
    headers = {
        "Cache-Control": asset.cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if name == INDEX:
        headers |= {
            "Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        body = b""
    return Response(body, media_type=asset.content_type, headers=headers)
