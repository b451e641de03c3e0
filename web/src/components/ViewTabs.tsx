import { useRef, type KeyboardEvent } from 'react';

export type View = 'settings' | 'messages' | 'campaigns';

export const VIEWS: Array<{ id: View; label: string }> = [
  { id: 'settings', label: 'Settings' },
  { id: 'messages', label: 'Messages' },
  { id: 'campaigns', label: 'Campaigns' },
];

export const tabId = (view: View) => `tab-${view}`;
export const panelId = (view: View) => `panel-${view}`;

/** The view in the address (`?view=messages`), so a platform can link straight to it. */
export function viewFromAddress(): View {
  const v = new URLSearchParams(window.location.search).get('view');
  return VIEWS.some((x) => x.id === v) ? (v as View) : 'settings';
}

/** Keeps the chosen view in the address (not in history: Back leaves the page as before). */
export function rememberView(view: View): void {
  const url = new URL(window.location.href);
  if (view === 'settings') url.searchParams.delete('view');
  else url.searchParams.set('view', view);
  window.history.replaceState(null, '', url.pathname + url.search + url.hash);
}

/**
 * The page's sections as tabs (WAI-ARIA tabs pattern): one tab stop, arrow keys (and Home/End)
 * move between the tabs and show the one reached.
 */
export function ViewTabs({ value, onChange }: { value: View; onChange: (v: View) => void }) {
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  function onKeyDown(e: KeyboardEvent<HTMLButtonElement>, index: number) {
    const last = VIEWS.length - 1;
    const next = e.key === 'ArrowRight' ? (index === last ? 0 : index + 1) : e.key === 'ArrowLeft' ? (index === 0 ? last : index - 1) : e.key === 'Home' ? 0 : e.key === 'End' ? last : null;
    if (next === null) return;
    e.preventDefault();
    onChange(VIEWS[next]!.id);
    refs.current[next]?.focus();
  }
  return (
    <div role="tablist" aria-label="Sections" className="tabs">
      {VIEWS.map((v, i) => (
        <button
          key={v.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          role="tab"
          id={tabId(v.id)}
          aria-selected={v.id === value}
          aria-controls={panelId(v.id)}
          tabIndex={v.id === value ? 0 : -1}
          className="tab"
          onClick={() => onChange(v.id)}
          onKeyDown={(e) => onKeyDown(e, i)}
        >
          {v.label}
        </button>
      ))}
    </div>
  );
}
