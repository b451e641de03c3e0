import type { Address } from './types.ts';

/** A date as people read it here: "12 Mar 2030, 14:05" in the browser's language and time zone. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "Dana Customer <dana@customer.test>", or the address alone. */
export function formatAddress(a: Address | null | undefined): string {
  if (!a) return 'unknown sender';
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

/** The readable text of an HTML-only message: parsed inertly (no scripts run, nothing is fetched), tags dropped. */
export function htmlToText(html: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  for (const el of doc.querySelectorAll('script, style, head')) el.remove();
  for (const el of doc.querySelectorAll('br')) el.replaceWith('\n');
  for (const el of doc.querySelectorAll('p, div, li, tr, h1, h2, h3, h4, h5, h6')) el.append('\n');
  return (doc.body.textContent ?? '').replace(/\n{3,}/g, '\n\n').trim();
}
