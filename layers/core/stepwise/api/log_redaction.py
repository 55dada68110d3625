"""No signal token in any log line (issue 14 row 4).

A signal URL's path is its token, which authorises a callback on its own. The API's own access
line logs the route template (``app.py``), and API Gateway's access log the route key. Two
libraries in the request path log the raw path themselves at INFO: Mangum (``mangum.http``,
``"POST /v1/signals/<token> 202"``, in the API function's log once its log level lets INFO
through) and uvicorn (``uvicorn.access``, the local stack's server). Their records pass through
``SignalTokenFilter``, which rewrites any signal path, and its query string, to the template.
"""

import logging
import re
from typing import Any

SIGNAL_PATH = re.compile(r"/v1/signals/[^\s\"'?#]*(\?[^\s\"'#]*)?")
REDACTED = "/v1/signals/{token}"
# The loggers that write a request's raw path (Lambda: Mangum; the local stack: uvicorn).
PATH_LOGGERS = ("mangum.http", "uvicorn.access")


def redact(text: str) -> str:
    return SIGNAL_PATH.sub(REDACTED, text) if "/v1/signals/" in text else text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class SignalTokenFilter(logging.Filter):
    """Rewrites signal paths in a record's message and arguments (their formatters, uvicorn's
    among them, read ``args`` themselves); drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return True


_FILTER = SignalTokenFilter()


def install() -> None:
    """Adds the filter to every logger that writes raw paths (once each)."""
    for name in PATH_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
