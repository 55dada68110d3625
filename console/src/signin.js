import { useState } from "preact/hooks";
import { ApiError, request, signIn } from "./api.js";
import { html } from "./html.js";

// Checks the key with one cheap read before keeping it: a wrong key is told at once.
export function SignIn({ onSignedIn, notice }) {
  const [org, setOrg] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState(notice || "");
  const [busy, setBusy] = useState(false);

  async function submit(ev) {
    ev.preventDefault();
    setBusy(true);
    setError("");
    const creds = { org: org.trim(), key: key.trim() };
    try {
      await request("GET", "/runs?limit=1", undefined, creds);
      signIn(creds.org, creds.key);
      onSignedIn();
    } catch (err) {
      setError(signInMessage(err, creds.org));
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="signin" onSubmit=${submit}>
    <h1>Stepwise</h1>
    <label>Org <input data-test="org" name="org" value=${org} required autocomplete="organization"
      onInput=${(e) => setOrg(e.target.value)} /></label>
    <label>API key <input data-test="api-key" name="api-key" type="password" value=${key} required
      autocomplete="off" onInput=${(e) => setKey(e.target.value)} /></label>
    <button data-test="sign-in" type="submit" disabled=${busy}>Sign in</button>
    ${error ? html`<p class="error" data-test="sign-in-error" role="alert">${error}</p>` : null}
    <p class="hint">The key stays in this browser tab (session storage) and is sent only in the
      Authorization header.</p>
  </form>`;
}

function signInMessage(err, org) {
  if (!(err instanceof ApiError)) return `The API could not be reached: ${err.message}`;
  if (err.status === 401) return "Wrong API key: the API does not know this key (401).";
  if (err.status === 404) return `This key does not belong to org "${org}" (404).`;
  if (err.status === 403) return `This key may not list runs: ${err.message}`;
  if (err.status === 422) return `Org: ${err.message}`;
  return `Sign-in failed: ${err.message}`;
}
