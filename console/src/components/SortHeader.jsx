// A column header that sorts the list by its key; a second click reverses the order.
export function SortHeader({ label, column, sort, order, onSort }) {
  const active = sort === column;
  const next = active && order === 'asc' ? 'desc' : 'asc';
  return (
    <th aria-sort={active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => onSort(column, next)} data-testid={`sort-${column}`}>
        {label}
        <span class="arrow" aria-hidden="true">
          {active ? (order === 'asc' ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}
