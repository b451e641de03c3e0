/**
 * The composer's worker thread (piscina task): drafts (JSON) in, message bytes out, one result per
 * draft (a draft that cannot be composed answers `{ error }` and fails alone). Composing (MIME
 * structure, quoted-printable or base64 bodies) is the largest piece of CPU work per message; under
 * load it runs here, beside the thread that serves the API and drives the SMTP connections. One
 * task carries several drafts, because each hand-over between threads has a fixed cost.
 */
import { composeDraft } from './draft.js';

export type ComposeResult = Uint8Array | { error: string };

export default async function composeAll(drafts: string[]): Promise<ComposeResult[]> {
  const out: ComposeResult[] = [];
  for (const d of drafts) {
    try {
      out.push(await composeDraft(d));
    } catch (err) {
      out.push({ error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
