// Endpoints left behind: the `certmgr -l` list, searched, sorted and paged by the server.
import { useState } from 'preact/hooks';
import { getJson, query } from '../api.js';
import { Pager } from '../components/Pager.jsx';
import { SortHeader } from '../components/SortHeader.jsx';
import { number, shortFingerprint, timestamp } from '../format.js';
import { useDebounced, useLoad } from '../hooks.js';

const PER_PAGE = 50;

export function Stragglers() {
  const [text, setText] = useState('');
  const q = useDebounced(text.trim(), 250);
  const [sort, setSort] = useState({ sort: 'agent_id', order: 'asc' });
  const [page, setPage] = useState(1);
  const [searched, setSearched] = useState(q);
  if (searched !== q) {
    // A new search starts on its first page.
    setSearched(q);
    setPage(1);
  }
  const params = { q, sort: sort.sort, order: sort.order, page, per_page: PER_PAGE };
  const { data, error, loading } = useLoad(() => getJson('/api/stragglers', params), [q, sort.sort, sort.order, page]);
  const onSort = (column, order) => {
    setSort({ sort: column, order });
    setPage(1);
  };
  const rows = data?.rows ?? [];
  return (
    <div>
      <div class="toolbar">
        <input
          type="search"
          placeholder="Search agent id or hostname"
          aria-label="Search agent id or hostname"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          data-testid="search"
        />
        <span class="muted" data-testid="straggler-total" data-total={data?.total ?? ''} data-loading={loading ? 'yes' : 'no'}>
          {data ? `${number(data.total)} left behind${q ? ` matching “${q}”` : ''}` : 'Loading…'}
        </span>
        <a class="button" href={`/api/stragglers.csv?${query({ q })}`} download="stragglers.csv" data-testid="csv-link">
          Download CSV
        </a>
      </div>
      {error && <p class="error">{error.message}</p>}
      <table class="grid stragglers" data-testid="straggler-table">
        <thead>
          <tr>
            <SortHeader label="Agent" column="agent_id" {...sort} onSort={onSort} />
            <SortHeader label="Hostname" column="hostname" {...sort} onSort={onSort} />
            <th>IP address</th>
            <SortHeader label="Pinned certificate" column="pinned" {...sort} onSort={onSort} />
            <SortHeader label="Last seen" column="last_seen" {...sort} onSort={onSort} />
            <th>Why</th>
            <th>What to do</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.agent_id} data-testid="straggler-row" data-agent-id={r.agent_id}>
              <td>
                <code>{r.agent_id}</code>
              </td>
              <td>{r.hostname}</td>
              <td>{r.ip_address}</td>
              <td>
                <code title={r.pinned_fingerprint}>{shortFingerprint(r.pinned_fingerprint)}</code>
              </td>
              <td class="nowrap">{timestamp(r.last_seen)}</td>
              <td>
                <span class={`badge ${r.reason}`} data-testid="straggler-reason">
                  {r.reason}
                </span>
              </td>
              <td class="advice">{r.advice}</td>
            </tr>
          ))}
          {data && rows.length === 0 && (
            <tr>
              <td colSpan={7} class="muted" data-testid="straggler-empty">
                {q ? 'No endpoint left behind matches this search.' : 'Every endpoint is on the current certificate.'}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {data && <Pager page={data.page ?? page} perPage={data.per_page ?? PER_PAGE} total={data.total} onPage={setPage} />}
    </div>
  );
}
