import { useEffect, useRef, useState } from "preact/hooks";
import { get, post, query } from "./api.js";
import { useConfirm } from "./confirm.js";
import { Graph, runGraphNodes } from "./graph.js";
import { html, json, StatusBadge, time } from "./html.js";

export const POLL_MS = 2000;
const ENDED = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
const REPAIRABLE = new Set(["failed", "cancelled", "timed_out"]);

// What a route this stack's API does not have answers (404 Not Found or 405): an action on a
// stack deployed before the route existed.
function actionMessage(name, err) {
  if (err.noRoute) return `This stack's API has no ${name} yet (HTTP ${err.status}).`;
  return `${name} refused: ${err.message}`;
}

export function RunView({ runId, go }) {
  const [run, setRun] = useState(null);
  const [workflow, setWorkflow] = useState(null);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState(null);
  const [flash, setFlash] = useState(null);
  const [ask, dialog] = useConfirm();
  // The pinned version read so far: a ref, because the poll's closure outlives renders. A
  // version is immutable, so it is read once per page, not on every poll.
  const pinned = useRef(null);

  async function load() {
    const fetched = (await get(`/runs/${encodeURIComponent(runId)}`)).data;
    setRun(fetched);
    const version = fetched.workflow_version && `${fetched.workflow_id}@${fetched.workflow_version}`;
    if (version && pinned.current !== version) {
      const wf = await get(`/workflows/${encodeURIComponent(fetched.workflow_id)}${query({ version: fetched.workflow_version })}`);
      pinned.current = version;
      setWorkflow(wf.data);
    }
    return fetched;
  }

  // Polls while the run goes and the tab is visible; stops once the run has ended.
  useEffect(() => {
    let live = true;
    let timer = null;
    let busy = false; // one poll at a time, whatever wakes it
    const poll = async () => {
      if (!live || busy) return;
      busy = true;
      clearTimeout(timer);
      let current = null;
      try {
        if (document.visibilityState !== "hidden") current = await load();
        setError("");
      } catch (err) {
        if (live) setError(err.status === 404 ? `Run ${runId} not found (404).` : err.message);
        if (err.status === 404) return;
      } finally {
        busy = false;
      }
      if (live && !(current && ENDED.has(current.status))) timer = setTimeout(poll, POLL_MS);
    };
    poll();
    // A tab that comes back polls at once instead of waiting out its timer.
    const wake = () => document.visibilityState === "visible" && poll();
    document.addEventListener("visibilitychange", wake);
    return () => {
      live = false;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", wake);
    };
  }, [runId, run && ENDED.has(run.status) ? "ended" : "live"]);

  if (error && !run) return html`<p class="error" role="alert" data-test="run-error">${error}</p>`;
  if (!run) return html`<p>Loading ${runId}…</p>`;

  const states = new Map(run.nodes.map((n) => [n.ref, n]));
  const nodes = runGraphNodes(run, workflow);

  // `after` sees the answer; when it opens another page (a rerun opens its new run) it returns
  // true, and this page, about to go, neither reads its run again nor says anything.
  function act(label, text, send, after) {
    ask(text, async () => {
      setFlash(null);
      try {
        const answer = await send();
        if (after && after(answer)) return;
        setFlash({ ok: true, text: `${label}: done.` });
        await load();
      } catch (err) {
        setFlash({ ok: false, text: actionMessage(label, err) });
        // A 409 says the run moved on since this page read it (another tab, the CLI): show
        // where it is now, and poll again if it goes.
        if (err.status === 409) await load().catch(() => {});
      }
    });
  }

  const id = encodeURIComponent(run.id);
  const buttons = [];
  if (!ENDED.has(run.status) && run.kind !== "external") {
    buttons.push(html`<button data-test="cancel" class="danger" onClick=${() =>
      act("Cancel", `Cancel run ${run.id}? Running nodes are stopped.`, () => post(`/runs/${id}/cancel`, {}),
        (a) => a && a.data && setRun({ ...run, ...a.data }))}>Cancel</button>`);
  }
  // A paused run is status "paused" (POST /runs/{id}/pause); Resume continues it.
  const paused = run.status === "paused";
  if (run.status === "running" && !paused) {
    buttons.push(html`<button data-test="pause" class="secondary" onClick=${() =>
      act("Pause", "Pause this run? Running nodes finish; nothing new starts.", () => post(`/runs/${id}/pause`, {}))}>Pause</button>`);
  }
  if (paused) {
    buttons.push(html`<button data-test="resume" onClick=${() =>
      act("Resume", "Resume this run?", () => post(`/runs/${id}/resume`, {}))}>Resume</button>`);
  }
  if (REPAIRABLE.has(run.status) && run.kind !== "external") {
    buttons.push(html`<button data-test="redrive" onClick=${() =>
      act("Redrive", "Redrive this run? Succeeded nodes keep their outputs; the others run again.", () => post(`/runs/${id}/redrive`, {}))}>Redrive</button>`);
  }

  return html`<section class="run">
    <h2><a href="#/runs">Runs</a> / ${run.id} <span data-test="run-status" data-status=${run.status}><${StatusBadge} status=${run.status} /></span></h2>
    <dl class="facts">
      <dt>Workflow</dt><dd><a href=${`#/workflows/${run.workflow_id}`}>${run.workflow_id}</a>${run.workflow_version ? ` v${run.workflow_version}` : ""}</dd>
      <dt>Created</dt><dd>${time(run.created_at)}</dd>
      <dt>Finished</dt><dd>${time(run.finished_at)}</dd>
      ${run.parent_run_id ? html`<dt>Parent</dt><dd><a href=${`#/runs/${run.parent_run_id}`}>${run.parent_run_id}</a></dd>` : null}
      ${run.batch_id ? html`<dt>Batch</dt><dd>${run.batch_id}</dd>` : null}
      ${run.rerun_of ? html`<dt>Rerun of</dt><dd><a data-test="rerun-of" href=${`#/runs/${run.rerun_of}`}>${run.rerun_of}</a></dd>` : null}
      ${run.reruns && run.reruns.length ? html`<dt>Reruns</dt><dd data-test="reruns">${run.reruns.map((r, i) => html`${i ? ", " : ""}<a href=${`#/runs/${r}`}>${r}</a>`)}</dd>` : null}
      ${run.redrive_count ? html`<dt>Redriven</dt><dd data-test="redrives">${run.redrive_count === 1 ? "once" : `${run.redrive_count} times`}, last ${time(run.redriven_at)}</dd>` : null}
      ${run.error ? html`<dt>Error</dt><dd class="error">${run.error.node ? `${run.error.node}: ` : ""}${run.error.type}: ${run.error.message}</dd>` : null}
    </dl>
    <div class="actions">${buttons}</div>
    ${flash ? html`<p class=${flash.ok ? "ok" : "error"} role="status" data-test="flash">${flash.text}</p>` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <${Graph} nodes=${nodes} states=${states} selected=${selected} onSelect=${setSelected} />
    <div class="legend"><span class="edge-key success">success</span><span class="edge-key error">error</span></div>
    ${selected && states.get(selected)
      ? html`<${NodePanel} run=${run} node=${states.get(selected)}
          spec=${(workflow ? workflow.nodes : []).find((n) => n.ref === selected)}
          act=${act} go=${go} setRun=${setRun} />`
      : html`<p class="hint">Select a node to see its spec, input, output, attempts, records and logs.</p>`}
    <details><summary>Run input and output</summary>
      <h4>Input</h4><pre>${json(run.input)}</pre><h4>Output</h4><pre>${json(run.output)}</pre>
    </details>
    ${dialog}
  </section>`;
}

function NodePanel({ run, node, spec, act, go, setRun }) {
  const [records, setRecords] = useState(null);
  const [logs, setLogs] = useState(null);
  const [full, setFull] = useState(null);
  const [comment, setComment] = useState("");
  const runId = encodeURIComponent(run.id);
  const ref = encodeURIComponent(node.ref);

  // Read again when the node moves on, not on every poll.
  useEffect(() => {
    let live = true;
    get(`/runs/${runId}/actions`).then((p) => live && setRecords(p.data.filter((r) => r.node_ref === node.ref))).catch(() => live && setRecords([]));
    get(`/runs/${runId}/logs?limit=1000`).then((p) => live && setLogs(p.data.filter((l) => l.node_ref === node.ref))).catch(() => live && setLogs([]));
    if (node.output_omitted) get(`/runs/${runId}/nodes/${ref}`).then((n) => live && setFull(n.data)).catch(() => {});
    return () => {
      live = false;
    };
  }, [run.id, node.ref, node.status, node.attempt]);

  const waiting = node.kind === "approval" && node.status === "running" && !node.review;
  const review = (decision) =>
    act(decision === "approve" ? "Approve" : "Reject", `${decision === "approve" ? "Approve" : "Reject"} ${node.ref}?`,
      () => post(`/runs/${runId}/nodes/${ref}/approval`, { decision, ...(comment ? { comment } : {}) }),
      (a) => a && a.data && setRun({ ...run, nodes: run.nodes.map((n) => (n.ref === node.ref ? a.data : n)) }));
  const rerun = () =>
    act("Rerun", `Start a new run from ${node.ref}? Nodes not downstream of it keep their outputs.`,
      () => post(`/runs/${runId}/rerun`, { from: node.ref }),
      (a) => {
        if (!(a && a.data && a.data.id)) return false;
        go(`/runs/${a.data.id}`);
        return true;
      });
  const input = records && records.length ? records[0].input : undefined;

  return html`<aside class="panel" data-test="node-panel" data-node=${node.ref}>
    <h3>${node.ref} <${StatusBadge} status=${node.status} /> <small>${node.kind}</small></h3>
    <div class="actions">
      ${waiting ? html`
        <input data-test="review-comment" placeholder="comment (optional)" value=${comment} onInput=${(e) => setComment(e.target.value)} />
        <button data-test="approve" onClick=${() => review("approve")}>Approve</button>
        <button data-test="reject" class="danger" onClick=${() => review("reject")}>Reject</button>` : null}
      ${ENDED.has(run.status) && run.kind !== "external"
        ? html`<button data-test="rerun" class="secondary" onClick=${rerun}>Rerun from here</button>` : null}
    </div>
    <dl class="facts">
      <dt>Scheduled</dt><dd>${time(node.scheduled_at)}</dd>
      <dt>Started</dt><dd>${time(node.started_at)}</dd>
      <dt>Finished</dt><dd>${time(node.finished_at)}</dd>
      ${node.item_count ? html`<dt>Items</dt><dd data-test="items">${node.items_done ?? 0} of ${node.item_count} done <small>(counted as their chunks finish)</small></dd>` : null}
      ${node.child_run_id ? html`<dt>Child run</dt><dd><a data-test="child-run" href=${`#/runs/${node.child_run_id}`}>${node.child_run_id}</a></dd>` : null}
      ${node.skip_reason ? html`<dt>Skipped</dt><dd>${node.skip_reason}</dd>` : null}
    </dl>
    ${node.error ? html`<h4>Error</h4><pre class="error" data-test="node-error">${node.error.type}: ${node.error.message}</pre>` : null}
    ${node.review ? html`<h4>Review</h4><pre data-test="node-review">${json(node.review)}</pre>` : null}
    <h4>Output</h4><pre data-test="node-output">${json(full ? full.output : node.output)}</pre>
    <h4>Input</h4><pre>${input === undefined ? "— (an action node's record holds its input)" : json(input)}</pre>
    <h4>Attempts</h4>
    <table class="attempts"><thead><tr><th>#</th><th>Status</th><th>Started</th><th>Completed</th><th>Error</th></tr></thead>
      <tbody>${node.attempts.map((a) => html`<tr data-attempt=${a.attempt}><td>${a.attempt}</td><td><${StatusBadge} status=${a.status} /></td>
        <td>${time(a.started_at)}</td><td>${time(a.completed_at)}</td><td>${a.error ? `${a.error.type}: ${a.error.message}` : ""}</td></tr>`)}</tbody>
    </table>
    <h4>Action record events</h4>
    ${records === null ? html`<p>…</p>` : records.length === 0 ? html`<p class="hint">None (not an action node).</p>`
      : records.map((r) => html`<pre data-test="record-events">${json(r.events)}</pre>`)}
    <h4>Logs</h4>
    ${logs === null ? html`<p>…</p>` : logs.length === 0 ? html`<p class="hint">No log lines.</p>`
      : html`<ul class="logs">${logs.map((l) => html`<li class=${`log-${l.level}`}>${time(l.timestamp)} ${l.level} ${l.message}</li>`)}</ul>`}
    <h4>Spec</h4><pre data-test="node-spec">${json(spec)}</pre>
  </aside>`;
}
