import { useEffect, useState } from "preact/hooks";
import { get, query } from "./api.js";
import { html, StatusBadge, time } from "./html.js";

const STATUSES = ["", "queued", "running", "paused", "succeeded", "failed", "cancelled", "timed_out"];
const EMPTY = { status: "", workflow_id: "", tag: "", batch_id: "", created_after: "", created_before: "", limit: "" };

function toIso(local) {
  return local ? new Date(local).toISOString() : "";
}

export function listQuery(filters, cursor) {
  return query({
    limit: filters.limit || 20,
    status: filters.status,
    workflow_id: filters.workflow_id.trim(),
    batch_id: filters.batch_id.trim(),
    tag: filters.tag.split(",").map((t) => t.trim()).filter(Boolean),
    created_after: toIso(filters.created_after),
    created_before: toIso(filters.created_before),
    cursor,
  });
}

export function Runs({ params, go }) {
  const initial = { ...EMPTY, ...params };
  const [form, setForm] = useState(initial);
  const [filters, setFilters] = useState(initial);
  const [cursor, setCursor] = useState(null);
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");

  useEffect(() => {
    let live = true;
    setError("");
    get(`/runs${listQuery(filters, cursor)}`)
      .then((p) => live && setPage(p))
      .catch((err) => live && setError(err.message));
    return () => {
      live = false;
    };
  }, [filters, cursor]);

  const field = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const apply = (ev) => {
    ev.preventDefault();
    setCursor(null);
    setFilters({ ...form });
  };

  return html`<section>
    <h2>Runs ${page && page.total !== null && page.total !== undefined
      ? html`<span class="total" data-test="runs-total">${page.total} in all</span>` : null}</h2>
    <form class="filters" onSubmit=${apply}>
      <label>Status <select data-test="filter-status" value=${form.status} onChange=${field("status")}>
        ${STATUSES.map((s) => html`<option value=${s}>${s || "any"}</option>`)}
      </select></label>
      <label>Workflow <input data-test="filter-workflow" value=${form.workflow_id} placeholder="wf_…" onInput=${field("workflow_id")} /></label>
      <label>Tags <input data-test="filter-tag" value=${form.tag} placeholder="key=value, …" onInput=${field("tag")} /></label>
      <label>Batch <input data-test="filter-batch" value=${form.batch_id} placeholder="batch_…" onInput=${field("batch_id")} /></label>
      <label>After <input data-test="filter-after" type="datetime-local" value=${form.created_after} onInput=${field("created_after")} /></label>
      <label>Before <input data-test="filter-before" type="datetime-local" value=${form.created_before} onInput=${field("created_before")} /></label>
      <button type="submit" data-test="filter-apply">Filter</button>
    </form>
    ${error ? html`<p class="error" role="alert" data-test="runs-error">${error}</p>` : null}
    <table class="runs">
      <thead><tr><th>Run</th><th>Status</th><th>Workflow</th><th>Created</th><th>Finished</th><th>Tags</th></tr></thead>
      <tbody>
        ${(page ? page.data : []).map(
          (run) => html`<tr key=${run.id} data-run-id=${run.id} data-status=${run.status}
              class="clickable" onClick=${() => go(`/runs/${run.id}`)}>
            <td><a href=${`#/runs/${run.id}`}>${run.id}</a></td>
            <td><${StatusBadge} status=${run.status} /></td>
            <td>${run.workflow_id}${run.workflow_version ? ` v${run.workflow_version}` : ""}</td>
            <td>${time(run.created_at)}</td>
            <td>${time(run.finished_at)}</td>
            <td>${Object.entries(run.tags || {}).map(([k, v]) => html`<span class="tag">${k}=${v}</span>`)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${page && page.data.length === 0 ? html`<p class="empty">No runs match.</p>` : null}
    <div class="pager">
      <button data-test="page-newer" class="secondary" disabled=${!page || !page.previous_page}
        onClick=${() => setCursor(page.previous_page)}>← Newer</button>
      <button data-test="page-older" class="secondary" disabled=${!page || !page.next_page}
        onClick=${() => setCursor(page.next_page)}>Older →</button>
    </div>
  </section>`;
}
