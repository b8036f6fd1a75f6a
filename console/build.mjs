// Builds the console into a folder of static files that certkeeper-server serves:
// index.html, app.js (bundled, minified) and app.css. No inline script or style (the
// server's Content-Security-Policy forbids them), no source maps, no external requests.
//
//   node build.mjs [--outdir DIR]      (default: dist; or CK_CONSOLE_OUTDIR)
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function outdirFromArgs(argv) {
  const i = argv.indexOf('--outdir');
  if (i >= 0) {
    if (!argv[i + 1]) throw new Error('--outdir needs a folder');
    return argv[i + 1];
  }
  return process.env.CK_CONSOLE_OUTDIR || join(here, 'dist');
}

async function main() {
  const outdir = resolve(outdirFromArgs(process.argv.slice(2)));
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    absWorkingDir: here,
    entryPoints: { app: 'src/main.jsx' },
    outdir,
    bundle: true,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.css': 'css' },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(join(here, 'src', 'index.html'), join(outdir, 'index.html'));
}

main().catch((e) => {
  console.error(`console build: ${e.message}`);
  process.exit(1);
});
