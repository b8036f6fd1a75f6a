// Display helpers: fingerprints, times, durations, numbers.

export function shortFingerprint(fp) {
  if (!fp) return '—';
  return fp.length > 16 ? `${fp.slice(0, 16)}…` : fp;
}

export function number(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
}

// "2026-11-29T23:56:57Z" → "2026-11-29 23:56:57 UTC"; anything else unchanged.
export function timestamp(iso) {
  if (!iso) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

// Seconds → "364 d 23 h 59 min 12 s" (the two largest units past a day; "expired" below 0).
export function countdown(seconds) {
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) return '—';
  if (seconds <= 0) return 'expired';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return `${d} d ${h} h ${m} min ${r} s`;
  if (h > 0) return `${h} h ${m} min ${r} s`;
  return `${m} min ${r} s`;
}

export function percent(part, total) {
  if (!total) return '0%';
  const p = (100 * part) / total;
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)}%`;
}
