import { useState } from "preact/hooks";
import { html } from "./html.js";

// One in-page confirmation for every action (a native confirm() cannot be styled or tested).
export function useConfirm() {
  const [pending, setPending] = useState(null);
  const ask = (text, run) => setPending({ text, run });
  const dialog = pending
    ? html`<div class="modal" data-test="confirm-dialog" role="dialog" aria-modal="true">
        <div class="box">
          <p>${pending.text}</p>
          <button data-test="confirm-yes" onClick=${() => { const p = pending; setPending(null); p.run(); }}>Confirm</button>
          <button data-test="confirm-no" class="secondary" onClick=${() => setPending(null)}>Back</button>
        </div>
      </div>`
    : null;
  return [ask, dialog];
}
