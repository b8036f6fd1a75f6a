// Audit log: the newest entries first (the same entries as `certmgr audit --json`).
import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { shortFingerprint, timestamp } from '../format.js';
import { useLoad } from '../hooks.js';

const LIMITS = [50, 200, 1000];

export function Audit() {
  const [limit, setLimit] = useState(LIMITS[0]);
  const { data, error, loading, reload } = useLoad(() => getJson('/api/audit', { limit }), [limit]);
  const entries = data?.entries ?? [];
  return (
    <div>
      <div class="toolbar">
        <label>
          Show the last{' '}
          <select value={limit} onChange={(e) => setLimit(Number(e.currentTarget.value))} data-testid="audit-limit">
            {LIMITS.map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>{' '}
          entries
        </label>
        <button type="button" onClick={reload} disabled={loading} data-testid="audit-refresh">
          Refresh
        </button>
      </div>
      {error && <p class="error">{error.message}</p>}
      <table class="grid audit" data-testid="audit-table">
        <thead>
          <tr>
            <th>Time</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Certificates</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e, i) => (
            <tr key={i} data-testid="audit-row" data-action={e.action}>
              <td class="nowrap">{timestamp(e.at)}</td>
              <td>{e.actor}</td>
              <td>
                <span class="badge neutral">{e.action}</span>
              </td>
              <td>
                {(e.fingerprints ?? []).map((fp) => (
                  <code class="block" title={fp}>
                    {shortFingerprint(fp)}
                  </code>
                ))}
              </td>
              <td class="detail">{e.detail}</td>
            </tr>
          ))}
          {data && entries.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                The audit log is empty.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
