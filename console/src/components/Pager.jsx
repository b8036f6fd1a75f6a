// Previous/next with "rows A–B of N" for a server-side paged list.
import { number } from '../format.js';

export function Pager({ page, perPage, total, onPage }) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const first = total === 0 ? 0 : (page - 1) * perPage + 1;
  const last = Math.min(total, page * perPage);
  return (
    <div class="pager">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)} data-testid="pager-prev">
        ‹ Previous
      </button>
      <span data-testid="pager-info" data-page={page} data-pages={pages}>
        {number(first)}–{number(last)} of {number(total)} · page {number(page)} of {number(pages)}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)} data-testid="pager-next">
        Next ›
      </button>
    </div>
  );
}
