// Build the tracker: bundle + minify src/main.js into one IIFE at proxy/tracker/static/t.js.
//   node scripts/build.mjs           build and write the asset, print its gzipped size
//   node scripts/build.mjs --check   build into a temp file, fail if it differs from the committed asset
//   node scripts/build.mjs --size    print the committed asset's size, fail above the budget
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ASSET = resolve(root, '../proxy/tracker/static/t.js');
export const GZIP_BUDGET_BYTES = 4096;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const MANGLED = /^(env|cfg|t0|emit|safe|navigate|onStop|flush|idleMs|flushMs|script|api|start|stop|load|save|clear|ids)$/;

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function bundle(outfile) {
  await build({
    entryPoints: [join(root, 'src/main.js')],
    outfile,
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2019',
    platform: 'browser',
    legalComments: 'none',
    charset: 'utf8',
    // Internal property names (never DOM, JSON or public API names) are shortened; the bundle is
    // smoke-tested in test/build.test.js.
    mangleProps: MANGLED,
    banner: { js: `/*! Vernier tracker ${pkg.version} | Apache-2.0 */` },
    logLevel: 'warning',
  });
}

function report(bytes) {
  const gz = gzipSize(bytes);
  console.log(`t.js: ${bytes.length} bytes, ${gz} bytes gzipped (budget ${GZIP_BUDGET_BYTES})`);
  if (gz > GZIP_BUDGET_BYTES) {
    console.error(`t.js is over the size budget by ${gz - GZIP_BUDGET_BYTES} bytes gzipped`);
    process.exitCode = 1;
  }
}

const mode = process.argv[2];
if (mode === '--check') {
  const dir = mkdtempSync(join(tmpdir(), 'vernier-t-'));
  try {
    const out = join(dir, 't.js');
    await bundle(out);
    const fresh = readFileSync(out);
    let committed = null;
    try {
      committed = readFileSync(ASSET);
    } catch (e) {
      /* missing */
    }
    if (!committed || !fresh.equals(committed)) {
      console.error(`${ASSET} is not the build of tracker_js/src: run \`npm run build\` and commit it`);
      process.exitCode = 1;
    } else {
      console.log('t.js is up to date');
    }
    report(fresh);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (mode === '--size') {
  report(readFileSync(ASSET));
} else {
  await bundle(ASSET);
  report(readFileSync(ASSET));
}
