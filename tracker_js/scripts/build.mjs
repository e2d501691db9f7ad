// Build the tracker: bundle + minify into two assets under proxy/tracker/static/:
//   t.js         src/main.js as an IIFE, the tracker every page gets (≤ GZIP_BUDGET_BYTES gzipped)
//   triggers.js  src/observe/triggers.js as an ES module, in-page triggers, imported by t.js only
//                on pages that have a trigger template (≤ TRIGGERS_GZIP_BUDGET_BYTES gzipped)
// t.js names triggers.js by a versioned URL (/__vernier/triggers.js?v=<sha256 prefix of it>, the
// same version the proxy computes), so a change to triggers.js changes t.js and its version too.
//   node scripts/build.mjs           build and write both assets, print their gzipped sizes
//   node scripts/build.mjs --check   build into a temp dir, fail if either differs from the committed one
//   node scripts/build.mjs --size    print the committed assets' sizes, fail above a budget
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = resolve(root, '../proxy/tracker/static');
export const ASSET = join(STATIC, 't.js');
export const TRIGGERS_ASSET = join(STATIC, 'triggers.js');
export const TRIGGERS_PATH = '/__vernier/triggers.js';
export const GZIP_BUDGET_BYTES = 4096;
export const TRIGGERS_GZIP_BUDGET_BYTES = 1536;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const MANGLED = /^(env|cfg|t0|emit|safe|navigate|onStop|flush|idleMs|flushMs|script|api|start|stop|load|save|clear|ids|each|tt|tpl|since|timer|over)$/;

// keys of the observers' context (src/tracker.js `ctx`) that are not in MANGLED
const CONTEXT_KEYS = ['w', 'd', 'n', 'now', 'on'];

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;
/** The asset's version as the proxy computes it (proxy/tracker/asset.py): sha256, 12 hex chars. */
export const version = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);

async function bundle(entry, outfile, name, define, mangleCache, format = 'iife') {
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    minify: true,
    format,
    target: 'es2020', // t.js imports triggers.js with import()
    platform: 'browser',
    legalComments: 'none',
    charset: 'utf8',
    // Internal property names (never DOM, JSON or public API names) are shortened; the bundles are
    // smoke-tested in test/build.test.js.
    mangleProps: MANGLED,
    define,
    mangleCache,
    banner: { js: `/*! Vernier ${name} ${pkg.version} | Apache-2.0 */` },
    logLevel: 'warning',
  });
  return result.mangleCache;
}

/** Build both assets into `dir`; returns their paths. */
async function buildAll(dir) {
  const tt = join(dir, 'triggers.js');
  const t = join(dir, 't.js');
  // triggers.js gets the tracker's context object: both must shorten its keys the same way, and
  // never to a key the context has unshortened (env's w, d, n, now and `on`), which triggers.js
  // alone would not know of (false: a name in use, not to be given out)
  const shared = Object.fromEntries(CONTEXT_KEYS.map((key) => [key, false]));
  const names = await bundle('src/observe/triggers.js', tt, 'triggers', {}, shared, 'esm');
  const url = `${TRIGGERS_PATH}?v=${version(readFileSync(tt))}`;
  await bundle('src/main.js', t, 'tracker', { TRIGGERS_URL: JSON.stringify(url) }, names);
  return { t, tt };
}

function report(label, bytes, budget) {
  const gz = gzipSize(bytes);
  console.log(`${label}: ${bytes.length} bytes, ${gz} bytes gzipped (budget ${budget})`);
  if (gz > budget) {
    console.error(`${label} is over the size budget by ${gz - budget} bytes gzipped`);
    process.exitCode = 1;
  }
}

function reportBoth(t, tt) {
  report('t.js', t, GZIP_BUDGET_BYTES);
  report('triggers.js', tt, TRIGGERS_GZIP_BUDGET_BYTES);
}

const read = (path) => {
  try {
    return readFileSync(path);
  } catch (e) {
    return null; // missing
  }
};

const mode = process.argv[2];
if (mode === '--check') {
  const dir = mkdtempSync(join(tmpdir(), 'vernier-t-'));
  try {
    const fresh = await buildAll(dir);
    let stale = false;
    for (const [out, committed] of [[fresh.t, ASSET], [fresh.tt, TRIGGERS_ASSET]]) {
      const old = read(committed);
      if (!old || !readFileSync(out).equals(old)) {
        console.error(`${committed} is not the build of tracker_js/src: run \`npm run build\` and commit it`);
        stale = process.exitCode = 1;
      }
    }
    if (!stale) console.log('t.js and triggers.js are up to date');
    reportBoth(readFileSync(fresh.t), readFileSync(fresh.tt));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (mode === '--size') {
  reportBoth(readFileSync(ASSET), readFileSync(TRIGGERS_ASSET));
} else {
  await buildAll(STATIC);
  reportBoth(readFileSync(ASSET), readFileSync(TRIGGERS_ASSET));
}
