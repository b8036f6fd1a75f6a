// The console's JSON API (served by certkeeper-server beside these files; docs/console.md).
// Every call is same-origin with the session cookie; a 401 means the session ended.

export class SessionEnded extends Error {
  constructor() {
    super('Your session has ended. Run certmgr console-url for a new login link.');
  }
}

const listeners = new Set();
export function onSessionEnded(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function sessionEnded() {
  for (const fn of listeners) fn();
  return new SessionEnded();
}

async function errorText(res) {
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: fall through
  }
  return `${res.status} ${res.statusText}`.trim();
}

export async function getJson(path, params) {
  const url = params ? `${path}?${query(params)}` : path;
  const res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (res.status === 401) throw sessionEnded();
  if (!res.ok) throw new Error(await errorText(res));
  return res.json();
}

// The CSRF token of this session (GET /api/session), fetched once and kept.
let csrf = null;
async function csrfToken() {
  if (!csrf) csrf = getJson('/api/session').then((s) => s.csrf_token);
  try {
    return await csrf;
  } catch (e) {
    csrf = null;
    throw e;
  }
}

export async function postJson(path, body) {
  const token = await csrfToken();
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': token },
    body: JSON.stringify(body),
  });
  if (res.status === 401) throw sessionEnded();
  if (!res.ok) throw new Error(await errorText(res));
  return res.json().catch(() => ({}));
}

// Query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  return q.toString();
}
