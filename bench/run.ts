/**
 * `make bench`: every benchmark, one after the other, each against its peer in the same run.
 *   node_modules/node/bin/node bench/run.ts [name…]   (default: all)
 * Each prints its own table and ratios; see the file of each for what it measures.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES: Record<string, string[]> = {
  runtime: ['runtime.ts', '20'], // berth-runc run vs runc run
  engine: ['engine.ts', '20'], // berth run --rm vs podman run; the library vs runc; monitor memory
  unpack: ['unpack.ts'], // berth load vs umoci unpack vs podman load
  pull: ['pull.ts', '5'], // berth pull vs skopeo copy vs podman pull (local registry)
  'pull-tls': ['pull.ts', '5', '--tls'], // the same over HTTPS
  receive: ['receive.ts', '5'], // blob bodies: node:http vs download.ts's recycled slabs
  build: ['build.ts'], // berth build vs buildah bud, cold and cached
  'vm-boot': ['vm-boot.ts', '10'], // --isolation vm boot vs the bare QEMU floor
  network: ['network.ts'], // bridge vs none set-up, and throughput, vs podman
};

const node = process.execPath;
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BENCHES);
let failed = 0;
for (const name of wanted) {
  const b = BENCHES[name];
  if (!b) {
    console.error(`unknown benchmark "${name}": ${Object.keys(BENCHES).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(node, [fileURLToPath(new URL(b[0]!, import.meta.url)), ...b.slice(1)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed) process.exitCode = 1;
