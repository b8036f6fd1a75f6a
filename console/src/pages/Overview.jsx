// Overview: the current certificate, the endpoint counts and the stacked bar, live.
import { StackedBar } from '../components/StackedBar.jsx';
import { countdown, number, percent, shortFingerprint, timestamp } from '../format.js';
import { useNow } from '../hooks.js';
import { useOverview } from '../useOverview.js';

const LIVE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  ended: 'not updating',
};

export function Overview() {
  const { overview, receivedAt, status, error } = useOverview();
  const now = useNow(1000);
  if (!overview) {
    return error ? <p class="error">{error.message}</p> : <p class="muted">Loading…</p>;
  }
  const { current, endpoints = {} } = overview;
  const expiresIn = current ? current.expires_in_seconds - (now - receivedAt) / 1000 : null;
  return (
    <div class="overview">
      <p class={`live ${status}`} data-testid="live-status" data-status={status}>
        <span class="dot" aria-hidden="true" /> {LIVE_TEXT[status]}
        <span class="muted"> · as of {timestamp(overview.generated_at)}</span>
      </p>
      {error && <p class="error">{error.message}</p>}

      <section class="card">
        <h2>Current certificate</h2>
        {current ? (
          <dl class="facts">
            <dt>Fingerprint</dt>
            <dd>
              <code data-testid="current-fingerprint">{current.fingerprint}</code>
            </dd>
            <dt>Algorithm</dt>
            <dd data-testid="current-algorithm">{current.algorithm}</dd>
            <dt>Valid</dt>
            <dd>
              {timestamp(current.not_before)} – {timestamp(current.not_after)}
            </dd>
            <dt>Expires in</dt>
            <dd data-testid="current-expiry" class={expiresIn < 30 * 86400 ? 'warn' : ''}>
              {countdown(expiresIn)}
            </dd>
            <dt>Exportable</dt>
            <dd data-testid="current-exportable">{current.exportable ? 'yes' : 'no'}</dd>
          </dl>
        ) : (
          <p class="warn" data-testid="no-current">
            No current certificate. Run <code>certmgr -c</code> to generate one.
          </p>
        )}
      </section>

      <section class="card">
        <h2>Endpoints</h2>
        <div class="counts">
          <Count id="count-total" label="checked in" value={endpoints.total} />
          <Count id="count-current" label="on the current certificate" value={endpoints.current} good />
          <Count id="count-behind" label="left behind" value={endpoints.behind} bad={endpoints.behind > 0}>
            {endpoints.behind > 0 && <a href="#/stragglers">see the list</a>}
          </Count>
          <Count id="count-unknown" label="pin an unknown certificate" value={overview.unknown_pins} />
        </div>
        <StackedBar overview={overview} />
        <CertificateTable certificates={overview.certificates ?? []} total={endpoints.total} />
      </section>
    </div>
  );
}

function Count({ id, label, value, good, bad, children }) {
  return (
    <div class={`count${good ? ' good' : ''}${bad ? ' bad' : ''}`}>
      <div class="value" data-testid={id} data-value={value ?? ''}>
        {number(value)}
      </div>
      <div class="label">
        {label} {children}
      </div>
    </div>
  );
}

function CertificateTable({ certificates, total }) {
  if (certificates.length === 0) return null;
  return (
    <table class="grid certs">
      <thead>
        <tr>
          <th>Status</th>
          <th>Fingerprint</th>
          <th>Algorithm</th>
          <th>Not after</th>
          <th class="num">Endpoints</th>
          <th class="num">Share</th>
        </tr>
      </thead>
      <tbody>
        {certificates.map((c) => (
          <tr key={c.fingerprint} data-testid="cert-row" data-status={c.status} data-fingerprint={c.fingerprint}>
            <td>
              <span class={`badge ${c.status}`}>{c.status}</span>
            </td>
            <td>
              <code title={c.fingerprint}>{shortFingerprint(c.fingerprint)}</code>
            </td>
            <td>{c.algorithm}</td>
            <td>{timestamp(c.not_after)}</td>
            <td class="num" data-testid="cert-endpoints">
              {number(c.endpoints)}
            </td>
            <td class="num">{percent(c.endpoints, total)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
