import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The hosted settings page. Built into dist/web and served by Mailport itself at /connect (no CDN
 * at run time); `npm run build` runs this after the server build.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/connect/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // the CSP allows data: images only; keep every asset a file of its own
    assetsInlineLimit: 0,
  },
});
