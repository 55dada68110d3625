// The API client: the key lives in sessionStorage only and travels in the Authorization header,
// never in a URL. Errors carry the API's own message, and a 422 names its field.

const ORG = "stepwise.org";
const KEY = "stepwise.key";

export function session() {
  const org = sessionStorage.getItem(ORG);
  const key = sessionStorage.getItem(KEY);
  return org && key ? { org, key } : null;
}

export function signIn(org, key) {
  sessionStorage.setItem(ORG, org);
  sessionStorage.setItem(KEY, key);
}

export function signOut() {
  sessionStorage.removeItem(ORG);
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
    // FastAPI's own 404/405 (no such route on this stack), not one of the API's answers.
    this.noRoute = status === 405 || (status === 404 && body && body.detail === "Not Found");
    this.fields = fieldErrors(body);
  }
}

function fieldName(loc) {
  const parts = (loc || []).filter((p, i) => !(i === 0 && (p === "body" || p === "query")));
  return parts.join(".") || (loc || []).join(".");
}

function fieldErrors(body) {
  if (!body || !Array.isArray(body.detail)) return [];
  return body.detail.map((d) => ({ field: fieldName(d.loc), message: d.msg }));
}

function describe(status, body) {
  const fields = fieldErrors(body);
  if (fields.length) return fields.map((f) => `${f.field}: ${f.message}`).join("; ");
  if (body && Array.isArray(body.errors) && body.errors.length) {
    return body.errors.map((e) => e.message).join("; ");
  }
  if (body && typeof body.detail === "string") return `${body.detail} (HTTP ${status})`;
  return `HTTP ${status}`;
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body, creds = session()) {
  const headers = { Authorization: `Bearer ${creds.key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`/v1/orgs/${encodeURIComponent(creds.org)}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // A key refused after sign-in (revoked) signs the tab out; a key being tried does not.
    const current = session();
    if (response.status === 401 && current && current.key === creds.key) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") search.append(name, one);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
