// Bundles each CLI into one ESM file behind a tiny entry that turns on Node's compile cache first,
// so that a warm `berth-runc` pays for parsing and compiling its code only once per version.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const entries = {
  'berth-runc': 'src/cli/runc/main.ts',
  berth: 'src/cli/berth/main.ts',
};

mkdirSync('dist', { recursive: true });
rmSync('dist/chunks', { recursive: true, force: true }); // chunks of earlier builds would pile up
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [`${k}-main`, v])).valueOf(),
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  external: ['koffi'],
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
await build({
  entryPoints: { lib: 'src/lib.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  external: ['koffi'],
  logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// `--version` is answered by the entry itself: it costs no more than starting Node.
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const versionText = {
  'berth-runc': `berth-runc version ${version}\\nspec: 1.2.0\\n`,
  berth: `berth version ${version}\\n`,
};
for (const name of Object.keys(entries)) {
  writeFileSync(
    `dist/${name}.mjs`,
    `const a = process.argv.slice(2);\n` +
      `if (a.length === 1 && (a[0] === '--version' || a[0] === '-v')) process.stdout.write('${versionText[name]}');\n` +
      `else {\n` +
      `  const { enableCompileCache } = await import('node:module');\n` +
      `  try { enableCompileCache(new URL('../.cache/node-compile', import.meta.url).pathname); } catch {}\n` +
      `  await import('./${name}-main.mjs');\n` +
      `}\n`,
  );
}
