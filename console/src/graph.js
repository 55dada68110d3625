import { html } from "./html.js";
import { layout, NODE_H, NODE_W } from "./layout.js";

const PAD = 16;

function edgePath(a, b) {
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const x2 = b.x;
  const y2 = b.y + NODE_H / 2;
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}

function detail(node, state) {
  if (!state) return node.kind;
  if (state.item_count) return `${state.items_done ?? 0}/${state.item_count} items · ${state.status}`;
  if (state.attempt > 1) return `${state.status} · attempt ${state.attempt}`;
  return state.status;
}

// nodes: the workflow's node specs; states: Map ref -> the run's node (absent for a bare version).
export function Graph({ nodes, states, selected, onSelect }) {
  const { position, edges, width, height } = layout(nodes);
  return html`<div class="graph">
    <svg
      width=${width + 2 * PAD}
      height=${height + 2 * PAD}
      viewBox=${`${-PAD} ${-PAD} ${width + 2 * PAD} ${height + 2 * PAD}`}
      role="img"
      aria-label="workflow graph"
    >
      <defs>
        <marker id="arrow-success" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrow-success" />
        </marker>
        <marker id="arrow-error" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrow-error" />
        </marker>
      </defs>
      ${edges.map(
        (e) => html`<path
          key=${`${e.from}-${e.to}-${e.on}`}
          class=${`edge edge-${e.on}`}
          data-edge=${`${e.from}->${e.to}`}
          data-on=${e.on}
          d=${edgePath(position.get(e.from), position.get(e.to))}
          marker-end=${`url(#arrow-${e.on})`}
        />`,
      )}
      ${nodes.map((node) => {
        const p = position.get(node.ref);
        const state = states ? states.get(node.ref) : null;
        const status = state ? state.status : "";
        return html`<g
          key=${node.ref}
          class=${`node s-${status || "none"}${selected === node.ref ? " selected" : ""}`}
          data-node-ref=${node.ref}
          data-status=${status}
          transform=${`translate(${p.x},${p.y})`}
          tabindex="0"
          onClick=${() => onSelect && onSelect(node.ref)}
          onKeyDown=${(ev) => ev.key === "Enter" && onSelect && onSelect(node.ref)}
        >
          <title>${node.ref}: ${status || node.kind}</title>
          <rect width=${NODE_W} height=${NODE_H} rx="8" />
          <text x="12" y="22" class="ref">${node.ref.length > 22 ? `${node.ref.slice(0, 21)}…` : node.ref}</text>
          <text x="12" y="42" class="detail">${detail(node, state)}${node.for_each && !state?.item_count ? " · for_each" : ""}</text>
          ${state && state.child_run_id
            ? html`<a href=${`#/runs/${state.child_run_id}`} data-child-run=${state.child_run_id} onClick=${(ev) => ev.stopPropagation()}>
                <text x=${NODE_W - 12} y="22" class="child" text-anchor="end">child ↗</text>
              </a>`
            : null}
        </g>`;
      })}
    </svg>
  </div>`;
}

// The nodes to draw for a run: the pinned version's specs, else what the run itself says.
export function runGraphNodes(run, workflow) {
  if (workflow && workflow.nodes) return workflow.nodes;
  return (run.nodes || []).map((n) => ({
    ref: n.ref,
    kind: n.kind,
    depends_on: n.depends_on,
    fallback: n.fallback,
  }));
}
