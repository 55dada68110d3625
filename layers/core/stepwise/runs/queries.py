"""Run lists: filters, both-way paging and totals, each page one Query (or a few, when a filter
that is not the key drops items).

Generated run ids start with a ULID, so every run index sorts them by creation time (an
external run's own id sorts by itself). The key of the Query is
the most selective filter that has an index (a tag: the run's tag items on GSI1; status: GSI3;
workflow: GSI2; else the org's status partitions of GSI3, merged); in each, child runs,
``{parent}.{ref}.{attempt}``, sort right after their parent. The other filters become a
FilterExpression. A parent or a batch
narrows the sort-key range of whichever index is used: a batch's runs are
``run_<batch ULID>.<index>``, one range. A tag item holds only
its run's id, so a page by tag reads its runs with one BatchGetItem and checks the other
filters on them. A position is a run id, so paging stays stable while new runs arrive.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from stepwise.core.clock import iso
from stepwise.core.errors import ValidationFailed, field_error
from stepwise.core.fields import TAG_KEY, TAG_VALUE
from stepwise.core.ids import BATCH_RUN_ID_LENGTH, batch_of, batch_runs_prefix
from stepwise.core.statuses import RunStatus
from stepwise.infra import keys
from stepwise.runs import list_store
from stepwise.runs.list_store import Condition
from stepwise.runs.records import RunRecord

_AFTER_EVERY_ID = "~"  # sorts after the letters, digits, "_", "." and "-" of any run id
MAX_TAG_FILTERS = 10
# What a run list shows; the same attributes GSI2 and GSI3 project (a test holds them equal).
SUMMARY_ATTRIBUTES = (
    "org_id",
    "run_id",
    "workflow_id",
    "workflow_version",
    "status",
    "parent_run_id",
    "parent_node_ref",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "reviewed_by",
    "reviewed_at",
    "kind",
    "flow_type",
    "tags",
    "created_by",
    "updated_at",
    "updated_by",
    "role",
)


@cache
def _tag_adapter() -> TypeAdapter:
    return TypeAdapter(tuple[TAG_KEY, TAG_VALUE])


def parse_tags(texts: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``key=value`` filters (split at the first "="), each a valid tag; a 422 naming the
    ``tag`` parameter otherwise."""
    texts = texts or []
    if len(texts) > MAX_TAG_FILTERS:
        message = f"at most {MAX_TAG_FILTERS} tag filters are allowed"
        raise ValidationFailed([field_error(["query", "tag"], message, "too_long")])
    found = []
    for text in texts:
        key, equals, value = text.partition("=")
        try:
            if not equals:
                raise ValueError
            found.append(_tag_adapter().validate_python((key, value)))
        except (ValueError, ValidationError):
            message = (
                f"{text!r} is not key=value with a tag key and value (letters, digits, spaces "
                "and _ . : / = + - @; a key of 1 to 128, a value of up to 256 characters)"
            )
            raise ValidationFailed(
                [field_error(["query", "tag"], message, "value_error")]
            ) from None
    return tuple(sorted(set(found)))


@dataclass(frozen=True)
class RunFilter:
    status: str | None = None
    workflow_id: str | None = None
    parent_run_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    tags: tuple[tuple[str, str], ...] = ()  # every one must match
    batch_id: str | None = None

    def counted(self) -> str | None:
        """The run-count name that is this filter's total, if there is one."""
        if self.parent_run_id or self.created_after or self.created_before or self.tags:
            return None
        if self.batch_id:
            return None  # the batch's own counts: see batch_counted
        if self.status and self.workflow_id:
            return None
        if self.status:
            return keys.status_counter(self.status)
        if self.workflow_id:
            return keys.workflow_counter(self.workflow_id)
        return keys.ALL_RUNS

    def batch_counted(self) -> str | None:
        """The count of the batch item that is this filter's total, if there is one."""
        if not self.batch_id or self.workflow_id or self.parent_run_id or self.tags:
            return None
        if self.created_after or self.created_before:
            return None
        return keys.status_counter(self.status) if self.status else keys.BATCH_RUNS

    def scope(self) -> str:
        """What a cursor is bound to: the same list, the same filters."""
        scope = "|".join(
            f"{k}={'' if v is None else v}"
            for k, v in (
                ("status", self.status),
                ("workflow", self.workflow_id),
                ("parent", self.parent_run_id),
                ("after", self.created_after and self.created_after.isoformat()),
                ("before", self.created_before and self.created_before.isoformat()),
            )
        )
        if self.batch_id:  # only when set, so that cursors issued before batches stay valid
            scope += f"|batch={self.batch_id}"
        # "#" is in no tag, so it separates them without doubt.
        return scope + "".join(f"|tag#{k}#{v}" for k, v in self.tags)

    def matches(self, run: dict[str, Any]) -> bool:
        """Whether a run (as read, not from an index that the filter keys) passes every filter."""
        tags = run.get("tags") or {}
        return (
            all(tags.get(k) == v for k, v in self.tags)
            and (self.status is None or run["status"] == self.status)
            and (self.workflow_id is None or run["workflow_id"] == self.workflow_id)
            and (self.parent_run_id is None or run["run_id"].startswith(f"{self.parent_run_id}."))
            and (self.batch_id is None or batch_of(run["run_id"]) == self.batch_id)
            and (self.created_after is None or run["created_at"] >= _iso(self.created_after))
            and (self.created_before is None or run["created_at"] < _iso(self.created_before))
        )


@dataclass(frozen=True)
class Position:
    """Where a page starts: older (or newer) than ``at``, ``at`` itself included or not."""

    at: str
    newer: bool = False
    inclusive: bool = False


def page_runs(
    table: str, org_id: str, query: RunFilter, limit: int, position: Position | None
) -> tuple[list[RunRecord], bool]:
    """Up to ``limit`` run summaries, newest first, and whether more follow in the direction
    of travel (older, or newer when ``position.newer``)."""
    newer = bool(position and position.newer)
    if not (query.tags or query.status or query.workflow_id):
        return _page(_org_entries(table, org_id, query, limit, position), limit, newer)
    index, pk = _index(org_id, query)
    return _page(_entries(table, org_id, query, limit, position, index, pk), limit, newer)


def _page(found: list[dict[str, Any]], limit: int, newer: bool) -> tuple[list[RunRecord], bool]:
    """The first ``limit`` of the entries read in the direction of travel, newest first."""
    more = len(found) > limit
    page = found[:limit]
    if newer:
        page.reverse()
    return [RunRecord.from_item(item) for item in page], more


def _entries(
    table: str,
    org_id: str,
    query: RunFilter,
    limit: int,
    position: Position | None,
    index: keys.Index,
    pk: str,
    bound: str | None = None,
) -> list[dict[str, Any]]:
    """More than ``limit`` entries of one index partition in the direction of travel (all
    there are, when fewer), from the position; none past ``bound`` (a run id, included)."""
    low, high = _range(query)
    newer = bool(position and position.newer)
    if position is not None:
        if newer:
            low = max(low, position.at)
        else:
            high = min(high, position.at)
    if bound is not None:
        if newer:
            high = min(high, bound)
        else:
            low = max(low, bound)
    if low > high:
        return []

    def keep(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if query.tags:
            items = _tagged_runs(table, org_id, items, query)
        if position is None or position.inclusive:
            return items
        return [item for item in items if item["run_id"] != position.at]

    return list_store.query_runs(
        table,
        index,
        pk,
        low,
        high,
        newest_first=not newer,
        conditions=_conditions(query, index),
        limit=limit,
        keep=keep,
    )


# The org's run list reads these status partitions of GSI3 in the order runs move through them
# (queued, then running, then paused or ended), so a run that moves while a page is read moves
# into a partition still to be read; once a page is full, the rest are read only between the
# position and the page's last run. A run can also move back (resumed from paused, redriven
# after it ended) into one read already: those two are read again at the end of the page.
_STATUSES_IN_FLOW = (
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.PAUSED,
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
    RunStatus.TIMED_OUT,
)
_MOVED_BACK_INTO = (RunStatus.QUEUED, RunStatus.RUNNING)


def _org_entries(
    table: str, org_id: str, query: RunFilter, limit: int, position: Position | None
) -> list[dict[str, Any]]:
    """The org's runs with no status, workflow or tag filter: its status partitions of GSI3
    merged (every run is in exactly one: its status index moves with its status since run
    lists began), in the direction of travel, more than ``limit`` when there are.

    No index holds all of an org's runs: the entry that did (on GSI1, which projects every
    attribute) was rewritten by every write of the run, a write unit each, five a run. Entries
    that releases before wrote there stay until their runs expire, and are not read. A run that
    changes status between two of the Queries may be read twice: it is kept once, as last read.
    One that moves twice while a page is read (milliseconds) can be missed by that page."""
    newer = bool(position and position.newer)
    found: dict[str, dict[str, Any]] = {}
    ordered: list[dict[str, Any]] = []
    bound = None
    for status in (*_STATUSES_IN_FLOW, *_MOVED_BACK_INTO):
        pk = keys.runs_by_status_pk(org_id, str(status))
        for item in _entries(table, org_id, query, limit, position, keys.GSI3, pk, bound):
            found[item["run_id"]] = item  # read twice: the later read is the newer
        ordered = sorted(found.values(), key=lambda item: item["run_id"], reverse=not newer)
        if len(ordered) > limit:
            ordered = ordered[: limit + 1]
            bound = ordered[limit]["run_id"]
            found = {item["run_id"]: item for item in ordered}
    return ordered


def _conditions(query: RunFilter, index: keys.Index) -> list[Condition]:
    """The filters the index's key does not apply already."""
    if query.tags:
        return []  # tag items hold no run attributes: filtered once the runs are read
    conditions = []
    if query.status and index != keys.GSI3:
        conditions.append(Condition("status", "=", query.status))
    if query.workflow_id and index != keys.GSI2:
        conditions.append(Condition("workflow_id", "=", query.workflow_id))
    if query.parent_run_id and index != keys.GSI1:
        conditions.append(Condition("run_id", "begins_with", f"{query.parent_run_id}."))
    if query.batch_id:
        # The key range holds the batch's runs and their child runs; its own runs' ids are
        # all this long, their children's longer.
        conditions.append(Condition("run_id", "size=", BATCH_RUN_ID_LENGTH))
    if query.created_after:
        conditions.append(Condition("created_at", ">=", _iso(query.created_after)))
    if query.created_before:
        conditions.append(Condition("created_at", "<", _iso(query.created_before)))
    return conditions


def _tagged_runs(
    table: str, org_id: str, tag_items: list[dict[str, Any]], query: RunFilter
) -> list[dict[str, Any]]:
    """The runs of a page of tag items, in their order, that pass every filter (a run that has
    expired, or whose tags changed since the index was read, drops out)."""
    ids = [i["run_id"] for i in tag_items]
    read = list_store.runs(table, org_id, ids, SUMMARY_ATTRIBUTES)
    runs = {run["run_id"]: run for run in read}
    return [runs[i] for i in ids if i in runs and query.matches(runs[i])]


def _index(org_id: str, query: RunFilter) -> tuple[keys.Index, str]:
    if query.tags:
        # Likely the most selective filter, and the only one that can key a run list by tag.
        return keys.GSI1, keys.runs_by_tag_pk(org_id, *query.tags[0])
    if query.status:
        return keys.GSI3, keys.runs_by_status_pk(org_id, query.status)
    assert query.workflow_id, "the org's runs are its status partitions: see _org_entries"
    return keys.GSI2, keys.runs_by_workflow_pk(org_id, query.workflow_id)


def _range(query: RunFilter) -> tuple[str, str]:
    """The sort-key range the filters allow (inclusive). Ids use ``[a-z0-9_.-]``; "-" sorts
    first. Creation times narrow generated ids only (an external run's own id says nothing
    of its time), so they are applied as a filter on ``created_at`` as well."""
    low, high = "-", _AFTER_EVERY_ID
    if query.parent_run_id:
        low = max(low, f"{query.parent_run_id}.")
        high = min(high, f"{query.parent_run_id}.{_AFTER_EVERY_ID}")
    if query.batch_id:
        prefix = batch_runs_prefix(query.batch_id)
        low = max(low, prefix)
        high = min(high, f"{prefix}{_AFTER_EVERY_ID}")
    return low, high


def _iso(moment: datetime) -> str:
    """As ``created_at`` is stored (UTC, ISO 8601), so strings compare as times; a time
    without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment.astimezone(UTC))


# A key limited to at most this many workflows lists all their runs at once (one Query per
# workflow and page); one limited to more names the workflow it lists.
MAX_MERGED_WORKFLOWS = 10


def page_runs_of(
    table: str,
    org_id: str,
    query: RunFilter,
    workflow_ids: list[str],
    limit: int,
    position: Position | None,
) -> tuple[list[RunRecord], bool]:
    """``page_runs`` over the runs of several workflows: each workflow's page from the same
    position, merged. A position is a run id and every index sorts by run id, so the first
    ``limit`` runs of the union in the direction of travel are among the first ``limit`` of
    each workflow; a run belongs to one workflow, so none repeats. Costs one page per workflow."""
    newer = bool(position and position.newer)
    found: list[RunRecord] = []
    more = False
    for workflow_id in workflow_ids:
        runs, has_more = page_runs(
            table, org_id, replace(query, workflow_id=workflow_id), limit, position
        )
        found.extend(runs)
        more = more or has_more
    found.sort(key=lambda run: run.run_id, reverse=True)  # newest first, as every page
    more = more or len(found) > limit
    # Travelling to newer runs, the page is the ``limit`` nearest the position: the oldest.
    return (found[-limit:] if newer else found[:limit]), more


def merged_total(counts: dict[str, int], query: RunFilter, workflow_ids: list[str]) -> int | None:
    """The total of a list over several workflows: their counters summed, when the list has
    no other filter (none is kept per workflow and status, batch, tag or time)."""
    if replace(query, workflow_id=None).counted() != keys.ALL_RUNS:
        return None
    return sum(counts.get(keys.workflow_counter(w), 0) for w in workflow_ids)
