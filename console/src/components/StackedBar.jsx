// How many endpoints pin each certificate, as one bar: the current certificate first,
// then the retained ones, then fingerprints the store does not know. Segment widths are
// set through the CSSOM (flex-grow), which the Content-Security-Policy allows.
import { number, percent, shortFingerprint } from '../format.js';

export function StackedBar({ overview }) {
  const total = overview.endpoints?.total ?? 0;
  const certs = overview.certificates ?? [];
  const current = certs.filter((c) => c.status === 'current');
  const others = certs.filter((c) => c.status !== 'current' && c.endpoints > 0);
  const segments = [
    ...current.map((c) => ({ key: c.fingerprint, status: 'current', count: c.endpoints, label: c.fingerprint })),
    ...others.map((c) => ({ key: c.fingerprint, status: c.status, count: c.endpoints, label: c.fingerprint })),
  ];
  if (overview.unknown_pins > 0) {
    segments.push({ key: 'unknown', status: 'unknown', count: overview.unknown_pins, label: 'not in the store' });
  }
  if (total === 0) {
    return (
      <div class="bar empty" data-testid="bar">
        No endpoint has checked in yet.
      </div>
    );
  }
  return (
    <div class="bar" data-testid="bar" role="img" aria-label="endpoints by pinned certificate">
      {segments.map((s) =>
        s.count > 0 ? (
          <div
            key={s.key}
            class={`segment ${s.status}`}
            style={{ flexGrow: s.count }}
            title={`${s.status} ${shortFingerprint(s.label)}: ${number(s.count)} (${percent(s.count, total)})`}
            data-testid={s.status === 'current' ? 'bar-current' : `bar-${s.status}`}
            data-count={s.count}
          >
            {s.count / total >= 0.06 && <span>{percent(s.count, total)}</span>}
          </div>
        ) : null,
      )}
    </div>
  );
}
