import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session, signOut, whenUnauthorized } from "./api.js";
import { html } from "./html.js";
import { RunView } from "./run.js";
import { Runs } from "./runs.js";
import { SignIn } from "./signin.js";
import { WorkflowView, Workflows } from "./workflows.js";

// Hash routes (#/runs, #/runs/{id}, #/workflows, #/workflows/{id}?version=N): the server serves
// one page, and no route ever carries the key.
function parseHash() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: Object.fromEntries(new URLSearchParams(search)) };
}

function go(path) {
  location.hash = path;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  const [signedIn, setSignedIn] = useState(Boolean(session()));
  const [notice, setNotice] = useState("");
  useEffect(() => {
    const onHash = () => setRoute(parseHash());
    addEventListener("hashchange", onHash);
    whenUnauthorized(() => {
      signOut();
      setNotice("The API refused the key (401): sign in again.");
      setSignedIn(false);
    });
    return () => removeEventListener("hashchange", onHash);
  }, []);

  if (!signedIn) return html`<${SignIn} notice=${notice} onSignedIn=${() => { setNotice(""); setSignedIn(true); }} />`;
  const { parts, params } = route;
  let view;
  if (parts[0] === "runs" && parts[1]) view = html`<${RunView} key=${parts[1]} runId=${parts[1]} go=${go} />`;
  else if (parts[0] === "workflows" && parts[1]) view = html`<${WorkflowView} key=${parts[1]} workflowId=${parts[1]} params=${params} go=${go} />`;
  else if (parts[0] === "workflows") view = html`<${Workflows} go=${go} />`;
  else view = html`<${Runs} key=${JSON.stringify(params)} params=${params} go=${go} />`;
  return html`<div>
    <header>
      <strong>Stepwise</strong>
      <nav><a href="#/runs" class=${parts[0] !== "workflows" ? "active" : ""}>Runs</a>
        <a href="#/workflows" class=${parts[0] === "workflows" ? "active" : ""}>Workflows</a></nav>
      <span class="who" data-test="signed-in-org">${session().org}</span>
      <button data-test="sign-out" class="secondary" onClick=${() => { signOut(); setSignedIn(false); }}>Sign out</button>
    </header>
    <main>${view}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
