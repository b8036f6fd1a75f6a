// Send a server-initiated command (like `certmgr send`), after a confirmation dialog.
// POST /api/commands carries the session's CSRF token (api.js).
import { useEffect, useRef, useState } from 'preact/hooks';
import { postJson } from '../api.js';

const COMMANDS = ['ping', 'set-policy', 'run-scan'];

// "KEY=VALUE" lines → { KEY: "VALUE" }; throws on a line without "=".
export function parseArgs(text) {
  const args = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`argument "${line}" is not KEY=VALUE`);
    args[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return args;
}

export function SendCommand({ to, onTo }) {
  const [command, setCommand] = useState(COMMANDS[0]);
  const [all, setAll] = useState(false);
  const [argsText, setArgsText] = useState('');
  const [pending, setPending] = useState(null); // the request waiting for confirmation
  const [result, setResult] = useState(null); // { ok, text }
  const [busy, setBusy] = useState(false);
  const dialog = useRef(null);

  useEffect(() => {
    if (to) setAll(false);
  }, [to]);
  useEffect(() => {
    if (pending && dialog.current && !dialog.current.open) dialog.current.showModal();
    if (!pending && dialog.current?.open) dialog.current.close();
  }, [pending]);

  const review = (e) => {
    e.preventDefault();
    setResult(null);
    try {
      if (!all && !to.trim()) throw new Error('name an agent, or choose every agent');
      setPending({ command, to: all ? null : to.trim(), all, args: parseArgs(argsText) });
    } catch (err) {
      setResult({ ok: false, text: err.message });
    }
  };
  const confirm = async () => {
    setBusy(true);
    try {
      const answer = await postJson('/api/commands', pending);
      // The answer is certmgr send --json's: { seq, jti, exp }.
      const seq = answer.seq;
      setResult({ ok: true, text: `Queued ${pending.command}${seq !== undefined ? ` as message ${seq}` : ''}.` });
    } catch (err) {
      setResult({ ok: false, text: err.message });
    } finally {
      setBusy(false);
      setPending(null);
    }
  };

  return (
    <section class="card send">
      <h2>Send a command</h2>
      <form onSubmit={review} data-testid="send-form">
        <label>
          Command{' '}
          <select value={command} onChange={(e) => setCommand(e.currentTarget.value)} data-testid="send-command">
            {COMMANDS.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          To agent{' '}
          <input
            type="text"
            value={to}
            disabled={all}
            onInput={(e) => onTo(e.currentTarget.value)}
            placeholder="agent id"
            data-testid="send-to"
          />
        </label>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} data-testid="send-all" />{' '}
          every registered agent
        </label>
        <label class="args">
          Arguments (KEY=VALUE, one a line)
          <textarea rows={2} value={argsText} onInput={(e) => setArgsText(e.currentTarget.value)} data-testid="send-args" />
        </label>
        <button type="submit" data-testid="send-review">
          Review…
        </button>
      </form>
      {result && (
        <p class={result.ok ? 'ok' : 'error'} role="status" data-testid="send-result">
          {result.text}
        </p>
      )}
      <dialog ref={dialog} onCancel={() => setPending(null)} data-testid="send-confirm">
        {pending && (
          <div>
            <h3>Send this command?</h3>
            <p>
              <strong>{pending.command}</strong> to{' '}
              {pending.all ? <strong>every registered agent</strong> : <code>{pending.to}</code>}
              {Object.keys(pending.args).length > 0 && (
                <span>
                  {' '}
                  with{' '}
                  {Object.entries(pending.args).map(([k, v]) => (
                    <code>
                      {k}={v}{' '}
                    </code>
                  ))}
                </span>
              )}
              . The servers sign it and deliver it; it is recorded in the audit log.
            </p>
            <div class="actions">
              <button type="button" onClick={() => setPending(null)} disabled={busy} data-testid="send-cancel">
                Cancel
              </button>
              <button type="button" class="primary" onClick={confirm} disabled={busy} data-testid="send-confirm-button">
                Send
              </button>
            </div>
          </div>
        )}
      </dialog>
    </section>
  );
}
