// The console's frame: header, navigation, the session-ended notice, and the page.
import { useEffect, useState } from 'preact/hooks';
import { onSessionEnded } from './api.js';
import { useHashRoute } from './hooks.js';
import { Overview } from './pages/Overview.jsx';
import { Stragglers } from './pages/Stragglers.jsx';
import { Audit } from './pages/Audit.jsx';
import { Agents } from './pages/Agents.jsx';

const PAGES = [
  { id: 'overview', title: 'Overview', Page: Overview },
  { id: 'stragglers', title: 'Endpoints left behind', Page: Stragglers },
  { id: 'audit', title: 'Audit log', Page: Audit },
  { id: 'agents', title: 'Agents', Page: Agents },
];

export function App() {
  const route = useHashRoute();
  const [ended, setEnded] = useState(false);
  useEffect(() => onSessionEnded(() => setEnded(true)), []);
  const page = PAGES.find((p) => p.id === route) || PAGES[0];
  useEffect(() => {
    document.title = `${page.title} — certkeeper console`;
  }, [page]);
  const { Page } = page;
  return (
    <div class="frame">
      <header class="top">
        <span class="brand">certkeeper</span>
        <nav>
          {PAGES.map((p) => (
            <a
              href={`#/${p.id}`}
              class={p === page ? 'active' : ''}
              aria-current={p === page ? 'page' : undefined}
              data-testid={`nav-${p.id}`}
            >
              {p.title}
            </a>
          ))}
        </nav>
      </header>
      {ended && (
        <div class="banner error" role="alert" data-testid="session-ended">
          Your session has ended. Run <code>certmgr console-url</code> for a new login link.
        </div>
      )}
      <main>
        <h1>{page.title}</h1>
        <Page />
      </main>
    </div>
  );
}
