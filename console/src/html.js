import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);

export function time(value) {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().replace("T", " ").slice(0, 19);
}

export function json(value) {
  return value === undefined || value === null ? "—" : JSON.stringify(value, null, 2);
}

export function StatusBadge({ status }) {
  return html`<span class=${`badge s-${status}`}>${status}</span>`;
}
