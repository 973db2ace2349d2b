/**
 * Receive benchmark: why layer blobs bypass node:http. The same 6 blobs (114 MB in all, as in
 * bench/pull.ts) served by a node:http server in another process on 127.0.0.1, fetched 3 at a time
 * and discarded, by node:http (a new buffer per socket read) and by src/distribution/download.ts
 * (reads into recycled slabs), interleaved. Prints wall and CPU time (user+system of this process)
 * per run, the medians and the ratios. Run: node bench/receive.ts [rounds]
 */
import { fork } from 'node:child_process';
import { request, Agent } from 'node:http';
import { SlabPool } from '../src/common/lent.ts';
import { download, SLAB_SIZE } from '../src/distribution/download.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const BLOBS = 6;
const BLOB_BYTES = 19 << 20;

if (process.argv[2] === 'serve') {
  const { createServer } = await import('node:http');
  const { randomBytes } = await import('node:crypto');
  const blob = randomBytes(BLOB_BYTES);
  const srv = createServer((_q, s) => {
    s.writeHead(200, { 'content-length': blob.length });
    s.end(blob);
  });
  srv.listen(0, '127.0.0.1', () => process.send!((srv.address() as { port: number }).port));
} else {
  const child = fork(import.meta.filename, ['serve'], { stdio: 'inherit' });
  const port = await new Promise<number>((r) => child.once('message', (m) => r(m as number)));
  const urls = Array.from({ length: BLOBS }, (_, i) => `http://127.0.0.1:${port}/blob/${i}`);

  async function threeAtATime(get: (url: string) => Promise<number>): Promise<number> {
    const queue = [...urls];
    let total = 0;
    await Promise.all([0, 1, 2].map(async () => {
      for (let u = queue.shift(); u; u = queue.shift()) {
        const n = await get(u); // not `total += await …`: that reads total before the wait
        total += n;
      }
    }));
    return total;
  }

  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const nodeHttp = (url: string) =>
    new Promise<number>((resolve, reject) => {
      request(url, { agent }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  const pool = new SlabPool(SLAB_SIZE);
  const slabs = async (url: string) => {
    const head = await download({ url: new URL(url), headers: {}, tls: { ca: [], verify: true }, timeoutMs: 30_000, pool });
    let n = 0;
    for await (const c of head.body.chunks({ lent: true })) n += c.length;
    return n;
  };
  const tools: Record<string, (url: string) => Promise<number>> = { 'node:http': nodeHttp, 'download.ts': slabs };
  const wall: Record<string, number[]> = { 'node:http': [], 'download.ts': [] };
  const cpu: Record<string, number[]> = { 'node:http': [], 'download.ts': [] };
  const names = Object.keys(tools);
  try {
    await threeAtATime(slabs); // warm-up: the server's blob, the slabs, the code
    await threeAtATime(nodeHttp);
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of round % 2 ? [...names].reverse() : names) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const bytes = await threeAtATime(tools[n]!);
        wall[n]!.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu[n]!.push((c.user + c.system) / 1000);
        if (bytes !== BLOBS * BLOB_BYTES) throw new Error(`${n} received ${bytes} bytes`);
      }
      console.log(`round ${round + 1}: ${names.map((n) => `${n} ${wall[n]!.at(-1)!.toFixed(0)} ms (cpu ${cpu[n]!.at(-1)!.toFixed(0)} ms)`).join(', ')}`);
    }
  } finally {
    agent.destroy();
    child.kill();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  console.log(`\n${(BLOBS * BLOB_BYTES / 1e6).toFixed(0)} MB, 3 at a time     wall (median)   cpu (median)`);
  for (const n of names) console.log(`${n.padEnd(22)} ${median(wall[n]!).toFixed(0).padStart(8)} ms ${median(cpu[n]!).toFixed(0).padStart(10)} ms`);
  console.log(`\ndownload.ts vs node:http: ${(median(wall['node:http']!) / median(wall['download.ts']!)).toFixed(2)}x less wall time, ${(median(cpu['node:http']!) / median(cpu['download.ts']!)).toFixed(2)}x less CPU`);
}
