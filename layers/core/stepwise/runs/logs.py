"""A run's log lines (seed 002 logs): written by API callers and by the engine, read in order.

Lines live in the run's partition (``LOG#{id}``, ids sort by time). The engine writes a line for
what a caller would look for (a failed attempt, a retry), never on the happy path, so a node
that succeeds costs no extra write.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stepwise.core.clock import iso, now
from stepwise.core.ids import new_id
from stepwise.runs.log_store import LogStore
from stepwise.workflows.models import MAX_RUN_TIMEOUT_SECONDS


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"level": "info", "message": "sent 3 emails"}]},
    )

    level: LogLevel = LogLevel.INFO
    message: str = Field(min_length=1, max_length=10_000)
    node_ref: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    timestamp: datetime | None = Field(None, description="When it happened; default: now.")


class LogLine(BaseModel):
    id: str
    run_id: str
    level: LogLevel
    message: str
    node_ref: str | None = None
    timestamp: datetime
    source: str = Field(description="api (a caller) or engine.")


class RunLogs:
    def __init__(self, table: str, retention_days: int):
        self.table = table
        self.log_store = LogStore(table)
        # A line outlives any run it can belong to by the retention period.
        self.keep = timedelta(days=retention_days, seconds=MAX_RUN_TIMEOUT_SECONDS)

    def write(
        self,
        org_id: str,
        run_id: str,
        level: LogLevel,
        message: str,
        node_ref: str | None = None,
        source: str = "api",
        timestamp: datetime | None = None,
    ) -> dict[str, Any]:
        log_id = new_id("log")
        written = now()
        fields = {
            "id": log_id,
            "run_id": run_id,
            "level": str(level),
            "message": message,
            "node_ref": node_ref,
            "timestamp": iso(timestamp or written),
            "source": source,
            "expires_at": int((written + self.keep).timestamp()),
        }
        return self.log_store.put(org_id, run_id, log_id, fields)

    def page(
        self, org_id: str, run_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Lines in the order they were written; the last id when more may follow."""
        return self.log_store.page(org_id, run_id, limit, after)
