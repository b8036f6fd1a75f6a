// The overview, kept live: GET /api/overview once, then every `overview` event of
// /api/events (EventSource; it reconnects by itself after a dropped connection).
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';

// status: "connecting" | "live" | "reconnecting" | "ended"
export function useOverview() {
  const [state, setState] = useState({ overview: null, receivedAt: 0, status: 'connecting', error: null });
  useEffect(() => {
    let closed = false;
    let source = null;
    let retry = null;
    const accept = (overview) => {
      if (!closed) setState((s) => ({ ...s, overview, receivedAt: Date.now(), error: null }));
    };
    const connect = () => {
      source = new EventSource('/api/events');
      source.addEventListener('open', () => setState((s) => ({ ...s, status: 'live' })));
      source.addEventListener('overview', (e) => {
        try {
          accept(JSON.parse(e.data));
        } catch {
          setState((s) => ({ ...s, error: new Error('the server sent an unreadable overview') }));
        }
      });
      source.addEventListener('error', () => {
        if (closed) return;
        if (source.readyState !== EventSource.CLOSED) {
          setState((s) => ({ ...s, status: 'reconnecting' }));
          return;
        }
        // Refused outright (not a dropped connection): the session may have ended.
        // getJson reports a 401 to the whole page; otherwise try again in a while.
        getJson('/api/overview').then(
          (o) => {
            accept(o);
            setState((s) => ({ ...s, status: 'reconnecting' }));
            retry = setTimeout(connect, 3000);
          },
          (error) => setState((s) => ({ ...s, status: 'ended', error })),
        );
      });
    };
    getJson('/api/overview').then(accept, (error) => setState((s) => ({ ...s, error })));
    connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      if (source) source.close();
    };
  }, []);
  return state;
}
