// A layered DAG layout (longest path from the roots, then barycentre ordering), left to right.
// Small on purpose: a workflow's graph is tens of nodes, not thousands.

export const NODE_W = 176;
export const NODE_H = 58;
const GAP_X = 70;
const GAP_Y = 26;

// "a", "a.success" -> success edge from a; "a.error" -> error edge from a.
export function parseDependency(dep) {
  const match = /^(.*)\.(success|error)$/.exec(dep);
  return match ? { ref: match[1], on: match[2] } : { ref: dep, on: "success" };
}

// nodes: [{ref, depends_on: [...], fallback?}] -> edges [{from, to, on}]
export function edgesOf(nodes) {
  const refs = new Set(nodes.map((n) => n.ref));
  const edges = [];
  const seen = new Set();
  const add = (from, to, on) => {
    const id = `${from}>${to}>${on}`;
    if (refs.has(from) && refs.has(to) && !seen.has(id)) {
      seen.add(id);
      edges.push({ from, to, on });
    }
  };
  for (const node of nodes) {
    for (const dep of node.depends_on || []) {
      const { ref, on } = parseDependency(dep);
      add(ref, node.ref, on);
    }
    if (node.fallback) add(node.ref, node.fallback, "error");
  }
  return edges;
}

export function layout(nodes) {
  const edges = edgesOf(nodes);
  const parents = new Map(nodes.map((n) => [n.ref, []]));
  for (const e of edges) parents.get(e.to).push(e.from);
  const layerOf = new Map();
  const visiting = new Set();
  const depth = (ref) => {
    if (layerOf.has(ref)) return layerOf.get(ref);
    if (visiting.has(ref)) return 0; // a cycle cannot be saved; draw it anyway
    visiting.add(ref);
    const d = Math.max(-1, ...parents.get(ref).map(depth)) + 1;
    visiting.delete(ref);
    layerOf.set(ref, d);
    return d;
  };
  nodes.forEach((n) => depth(n.ref));
  const layers = [];
  nodes.forEach((n, i) => {
    const d = layerOf.get(n.ref);
    (layers[d] ||= []).push({ ref: n.ref, order: i });
  });
  const rank = new Map();
  for (const layer of layers) {
    if (!layer) continue;
    for (const item of layer) {
      const ps = parents.get(item.ref).filter((p) => rank.has(p));
      if (ps.length) item.order = ps.reduce((s, p) => s + rank.get(p), 0) / ps.length;
    }
    layer.sort((a, b) => a.order - b.order);
    layer.forEach((item, i) => rank.set(item.ref, i));
  }
  const tallest = Math.max(1, ...layers.map((l) => (l ? l.length : 0)));
  const height = tallest * NODE_H + (tallest - 1) * GAP_Y;
  const position = new Map();
  layers.forEach((layer, d) => {
    if (!layer) return;
    const own = layer.length * NODE_H + (layer.length - 1) * GAP_Y;
    layer.forEach((item, i) => {
      position.set(item.ref, {
        x: d * (NODE_W + GAP_X),
        y: (height - own) / 2 + i * (NODE_H + GAP_Y),
      });
    });
  });
  return {
    position,
    edges,
    width: Math.max(NODE_W, layers.length * (NODE_W + GAP_X) - GAP_X),
    height: Math.max(NODE_H, height),
  };
}
