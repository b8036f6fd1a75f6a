// Agents: every agent identity (enrollment pending/accepted/rejected), and sending a command.
import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { Pager } from '../components/Pager.jsx';
import { SendCommand } from '../components/SendCommand.jsx';
import { number, shortFingerprint, timestamp } from '../format.js';
import { useDebounced, useLoad } from '../hooks.js';

const PER_PAGE = 50;

export function Agents() {
  const [text, setText] = useState('');
  const q = useDebounced(text.trim(), 250);
  const [page, setPage] = useState(1);
  const [searched, setSearched] = useState(q);
  const [target, setTarget] = useState('');
  if (searched !== q) {
    setSearched(q);
    setPage(1);
  }
  const { data, error } = useLoad(() => getJson('/api/agents', { q, page, per_page: PER_PAGE }), [q, page]);
  const rows = data?.rows ?? [];
  return (
    <div>
      <SendCommand to={target} onTo={setTarget} />
      <div class="toolbar">
        <input
          type="search"
          placeholder="Search agent id or hostname"
          aria-label="Search agents"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          data-testid="agents-search"
        />
        <span class="muted" data-testid="agents-total">
          {data ? `${number(data.total)} agents` : 'Loading…'}
        </span>
      </div>
      {error && <p class="error">{error.message}</p>}
      <table class="grid agents" data-testid="agents-table">
        <thead>
          <tr>
            <th>Agent</th>
            <th>Hostname</th>
            <th>Enrollment</th>
            <th>Key</th>
            <th>Last seen</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((a) => (
            <tr key={a.agent_id} data-testid="agent-row" data-agent-id={a.agent_id}>
              <td>
                <code>{a.agent_id}</code>
              </td>
              <td>{a.hostname}</td>
              <td>
                <span class={`badge ${a.enrollment}`}>{a.enrollment}</span>
              </td>
              <td>
                <code title={a.key_fingerprint}>{shortFingerprint(a.key_fingerprint)}</code>
              </td>
              <td class="nowrap">{timestamp(a.last_seen)}</td>
              <td>
                <button type="button" class="link" onClick={() => setTarget(a.agent_id)}>
                  Send a command…
                </button>
              </td>
            </tr>
          ))}
          {data && rows.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                No agent{q ? ' matches this search' : ' has registered yet'}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {data && <Pager page={data.page ?? page} perPage={data.per_page ?? PER_PAGE} total={data.total} onPage={setPage} />}
    </div>
  );
}
