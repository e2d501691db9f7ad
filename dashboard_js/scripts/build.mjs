// Build the dashboard's assets into proxy/dashboard/static/ (served by the admin listener, and
// inlined into `vernier report --format html`):
//   dashboard.js   src/main.js with uPlot, one minified IIFE (≤ GZIP_BUDGET_BYTES gzipped)
//   dashboard.css  src/style.css with uPlot's stylesheet
//   node scripts/build.mjs           build, write both, print the gzipped size of the JS
//   node scripts/build.mjs --check   build into a temp dir, fail if either differs from the committed one
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = resolve(root, '../proxy/dashboard/static');
export const GZIP_BUDGET_BYTES = 60 * 1024;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

async function buildAll(dir) {
  const common = { bundle: true, minify: true, charset: 'utf8', logLevel: 'warning', legalComments: 'none' };
  await build({
    ...common,
    entryPoints: [join(root, 'src/main.js')],
    outfile: join(dir, 'dashboard.js'),
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    banner: { js: `/*! Vernier dashboard ${pkg.version} | Apache-2.0; uPlot (c) Leon Sorokin, MIT */` },
  });
  await build({ ...common, entryPoints: [join(root, 'src/style.css')], outfile: join(dir, 'dashboard.css') });
  return ['dashboard.js', 'dashboard.css'];
}

function report(bytes) {
  const gz = gzipSync(bytes, { level: 9 }).length;
  console.log(`dashboard.js: ${bytes.length} bytes, ${gz} bytes gzipped (budget ${GZIP_BUDGET_BYTES})`);
  if (gz > GZIP_BUDGET_BYTES) {
    console.error(`dashboard.js is over its size budget by ${gz - GZIP_BUDGET_BYTES} bytes gzipped`);
    process.exitCode = 1;
  }
}

if (process.argv[2] === '--check') {
  const dir = mkdtempSync(join(tmpdir(), 'vernier-dash-'));
  try {
    for (const name of await buildAll(dir)) {
      let old = null;
      try { old = readFileSync(join(STATIC, name)); } catch (e) { /* missing */ }
      if (!old || !readFileSync(join(dir, name)).equals(old)) {
        console.error(`proxy/dashboard/static/${name} is not the build of dashboard_js/src: run \`make dashboard\` and commit it`);
        process.exitCode = 1;
      }
    }
    report(readFileSync(join(dir, 'dashboard.js')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  await buildAll(STATIC);
  report(readFileSync(join(STATIC, 'dashboard.js')));
}
