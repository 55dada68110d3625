import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, query } from "./api.js";
import { Graph } from "./graph.js";
import { html, time } from "./html.js";

export function Workflows({ go }) {
  const [page, setPage] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    get(`/workflows${query({ limit: 50, cursor })}`).then(setPage).catch((err) => setError(err.message));
  }, [cursor]);
  return html`<section>
    <h2>Workflows</h2>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <table class="runs"><thead><tr><th>Workflow</th><th>Name</th><th>Latest version</th><th>Updated</th></tr></thead>
      <tbody>${(page ? page.data : []).map((wf) => html`<tr key=${wf.id} data-workflow-id=${wf.id} class="clickable" onClick=${() => go(`/workflows/${wf.id}`)}>
        <td><a href=${`#/workflows/${wf.id}`}>${wf.id}</a></td><td>${wf.name}</td><td>${wf.latest_version}</td><td>${time(wf.updated_at)}</td></tr>`)}</tbody>
    </table>
    ${page && page.data.length === 0 ? html`<p class="empty">No workflows yet.</p>` : null}
    <div class="pager">
      <button class="secondary" disabled=${!page || !page.next_page} onClick=${() => setCursor(page.next_page)}>More →</button>
    </div>
  </section>`;
}

export function WorkflowView({ workflowId, params, go }) {
  const [versions, setVersions] = useState([]);
  const [workflow, setWorkflow] = useState(null);
  const [error, setError] = useState("");
  const version = params.version ? Number(params.version) : null;
  const wid = encodeURIComponent(workflowId);

  useEffect(() => {
    get(`/workflows/${wid}/versions?limit=100`).then((p) => setVersions(p.data)).catch(() => {});
  }, [workflowId]);
  useEffect(() => {
    get(`/workflows/${wid}${query({ version })}`).then((w) => setWorkflow(w.data)).catch((err) => setError(err.message));
  }, [workflowId, version]);

  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!workflow) return html`<p>Loading ${workflowId}…</p>`;
  return html`<section>
    <h2><a href="#/workflows">Workflows</a> / ${workflow.name} <small>${workflow.id}</small></h2>
    <p>${workflow.description || ""}</p>
    <label>Version <select data-test="version" value=${workflow.version}
      onChange=${(e) => go(`/workflows/${workflowId}?version=${e.target.value}`)}>
      ${(versions.length ? versions : [workflow]).map((v) => html`<option value=${v.version}>v${v.version} · ${time(v.created_at)}</option>`)}
    </select></label>
    <a class="button secondary" href=${`#/runs?workflow_id=${workflow.id}`}>Its runs</a>
    <${Graph} nodes=${workflow.nodes} />
    <${StartRun} workflow=${workflow} go=${go} />
    <details><summary>Definition (v${workflow.version})</summary><pre>${JSON.stringify(workflow, null, 2)}</pre></details>
  </section>`;
}

function StartRun({ workflow, go }) {
  const [text, setText] = useState("{}");
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  async function start(ev) {
    ev.preventDefault();
    let input;
    try {
      input = JSON.parse(text);
    } catch (err) {
      setErrors([{ field: "input", message: `not valid JSON: ${err.message}` }]);
      return;
    }
    setBusy(true);
    setErrors([]);
    try {
      const made = await post("/runs", { workflow_id: workflow.id, input });
      go(`/runs/${made.data.id}`);
    } catch (err) {
      setErrors(err instanceof ApiError && err.fields.length ? err.fields : [{ field: "", message: err.message }]);
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="start" onSubmit=${start}>
    <h3>Start a run of the latest version</h3>
    <textarea data-test="run-input" rows="6" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    <button data-test="start-run" type="submit" disabled=${busy}>Start run</button>
    ${errors.map((e) => html`<p class="error" role="alert" data-test="start-error" data-field=${e.field}>${e.field ? html`<b>${e.field}</b>: ` : null}${e.message}</p>`)}
  </form>`;
}
