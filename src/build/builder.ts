/**
 * `berth build`: Docker's classic builder. Stages run in order up to the target; every step ends
 * as an (intermediate) image found through the build cache before anything runs, so an unchanged
 * prefix of the Dockerfile costs one lookup per step. Output is Docker's: `Step N/M : …`,
 * `Using cache`, the RUN output, `Successfully built`.
 */
import { writeFileSync } from 'node:fs';
import type { Engine } from '../engine/engine.ts';
import { normalizeTagged } from '../image/reference.ts';
import { resolveImage } from '../image/resolve.ts';
import type { ContainerConfigJson } from '../image/media.ts';
import { shortId, type Digest } from '../store/digest.ts';
import type { Store } from '../store/store.ts';
import { BuildCache, cacheKey } from './cache.ts';
import type { BuildContext } from './context.ts';
import { hashSources, matchSources, type SourceItem, type SourceRoot } from './copy.ts';
import { parseDockerfile, parseInstruction, type Stage, type Step } from './dockerfile.ts';
import { atLine, BuildError } from './errors.ts';
import { commitStep, finishImage, loadImage, scratchImage, usable, type StageImage } from './image.ts';
import { applyMeta, commandOf, DEFAULT_PATH, envMap, shellOf, type MetaState } from './instructions.ts';
import { copyStep, runStep, squashLayers, workdirStep, type Changed } from './steps.ts';
import { expandVariables, expandWord, expandWords, rawPairs, type Lookup } from './words.ts';
import { openView } from './workspace.ts';
import path from 'node:path';

export interface BuildOptions {
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  squash?: boolean;
  labels?: Record<string, string>;
  platform?: string;
  network?: 'none' | 'host';
  quiet?: boolean;
  iidfile?: string;
  /** Build output (Step lines); RUN output goes to `runOutput`. */
  out?: (s: string) => void;
  /** fd for RUN's stdout and stderr (default: ours, 1), or 'ignore'. */
  runOutput?: number | 'ignore';
}

interface StageState {
  stage: Stage;
  image: StageImage;
  meta: MetaState;
  /** Declared ARGs in scope, with values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  /** Layers of the FROM image (what --squash keeps). */
  baseLayers: number;
  baseId: Digest | undefined;
}

class Builder {
  readonly engine: Engine;
  readonly store: Store;
  readonly ctx: BuildContext;
  readonly opts: BuildOptions;
  readonly cache: BuildCache;
  readonly out: (s: string) => void;
  readonly escape: string;
  readonly globals = new Map<string, string | undefined>();
  readonly used = new Set<string>();
  readonly done: StageState[] = [];
  stepNo = 0;
  total = 0;
  /** The Dockerfile line being built, for errors. */
  line = 0;

  constructor(engine: Engine, store: Store, ctx: BuildContext, opts: BuildOptions, escape: string) {
    this.engine = engine;
    this.store = store;
    this.ctx = ctx;
    this.opts = opts;
    this.cache = new BuildCache(store);
    this.escape = escape;
    this.out = opts.quiet ? () => {} : (opts.out ?? ((s) => process.stdout.write(s)));
  }

  buildArg(name: string): string | undefined {
    const v = this.opts.buildArgs?.[name];
    if (v !== undefined) this.used.add(name);
    return v;
  }

  lookupIn(st: StageState): Lookup {
    const env = envMap(st.meta.config.Env);
    return (n) => env.get(n) ?? st.args.get(n);
  }

  /** ARG values in effect (for RUN's environment and the cache key). */
  effectiveArgs(st: StageState): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of st.args) if (v !== undefined) out[k] = v;
    return out;
  }

  resolveFrom(st: { image: string; line: number }): { image: StageImage; stageRef: StageState | undefined } {
    const name = st.image.toLowerCase();
    const prior = this.done.find((s) => s.stage.name === name);
    if (prior) return { image: prior.image, stageRef: prior };
    if (name === 'scratch') return { image: scratchImage(this.platform()), stageRef: undefined };
    try {
      return { image: loadImage(this.store, resolveImage(this.store, st.image).record), stageRef: undefined };
    } catch (err) {
      throw new BuildError(`${(err as Error).message} (berth build uses local images: berth pull ${st.image} first)`);
    }
  }

  platform(): { os: string; architecture: string } | undefined {
    if (!this.opts.platform) return undefined;
    const [os, architecture] = this.opts.platform.split('/');
    return { os: os || 'linux', architecture: architecture || 'amd64' };
  }

  header(step: Step): void {
    this.stepNo++;
    this.out(`Step ${this.stepNo}/${this.total} : ${step.text}\n`);
  }

  async stage(stage: Stage): Promise<StageState> {
    const from = stage.from;
    this.header(from);
    const lookupGlobal: Lookup = (n) => this.globals.get(n);
    const imageRef = expandWord(from.args.split(/\s+/)[0]!, lookupGlobal, this.escape);
    if (!imageRef) throw new BuildError('FROM requires an image name');
    const { image } = this.resolveFrom({ image: imageRef, line: from.line });
    this.out(` ---> ${image.id ? shortId(image.id) : '<none> (scratch)'}\n`);
    const st: StageState = {
      stage,
      image,
      meta: { config: structuredClone(image.config.config ?? {}), cmdSet: false },
      args: new Map(),
      baseLayers: image.record?.layers.length ?? 0,
      baseId: image.id,
    };
    // Docker's builder gives every stage a PATH when its base has none
    if (!envMap(st.meta.config.Env).has('PATH')) st.meta.config.Env = [`PATH=${DEFAULT_PATH}`, ...(st.meta.config.Env ?? [])];
    const triggers = (st.meta.config.OnBuild as string[] | null | undefined) ?? [];
    if (triggers.length) {
      this.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      st.meta.config.OnBuild = null;
      for (const t of triggers) {
        let step: Step;
        try {
          step = { ...parseInstruction(t, this.escape), line: from.line };
        } catch (err) {
          throw new BuildError(`ONBUILD trigger of the base image: ${(err as Error).message}`);
        }
        await this.step(st, step, true);
      }
    }
    for (const step of stage.steps) {
      this.header(step);
      await this.step(st, step, false);
    }
    return st;
  }

  async step(st: StageState, step: Step, trigger: boolean): Promise<void> {
    this.line = trigger ? st.stage.from.line : step.line;
    const k = step.keyword;
    if (k === 'ARG') return this.arg(st, step);
    const args = this.effectiveArgs(st);
    const lookup = this.lookupIn(st);
    const parent = st.image.id ?? 'scratch';
    if (k === 'RUN') {
      const argv = this.runArgv(st, step);
      const argPrefix = Object.keys(args).length ? `|${Object.keys(args).length} ${Object.entries(args).map(([a, v]) => `${a}=${v}`).join(' ')} ` : '';
      await this.cached(st, { parent, instruction: step.text, args, extra: [argv, this.opts.network ?? 'none'] }, async () => {
        const env = [...(st.meta.config.Env ?? [])];
        const names = envMap(env);
        if (!names.has('PATH')) env.push(`PATH=${DEFAULT_PATH}`);
        for (const [a, v] of Object.entries(args)) if (!names.has(a)) env.push(`${a}=${v}`);
        const fd = this.opts.runOutput ?? 1;
        let cid = '';
        const changed = await runStep(this.engine, { ...st.image, config: { ...st.image.config, config: st.meta.config } }, {
          argv,
          env,
          workdir: st.meta.config.WorkingDir,
          user: st.meta.config.User,
          network: this.opts.network ?? 'none',
          stdio: ['ignore', this.opts.quiet ? 'ignore' : fd, this.opts.quiet ? 'ignore' : fd],
          onContainer: (id) => {
            cid = id;
            this.out(` ---> Running in ${id.slice(0, 12)}\n`);
          },
        });
        this.out(`Removing intermediate container ${cid.slice(0, 12)}\n`);
        return { changed, createdBy: `${argPrefix}${argv.join(' ')}` };
      });
      return;
    }
    if (k === 'COPY' || k === 'ADD') return this.copy(st, step, lookup, args);
    if (k === 'WORKDIR') {
      const w = expandWord(step.args, lookup, this.escape);
      if (!w) throw new BuildError('WORKDIR requires exactly one argument');
      const dir = path.posix.resolve(st.meta.config.WorkingDir || '/', w);
      await this.cached(st, { parent, instruction: step.text, args: {}, extra: [dir, st.meta.config.User ?? ''] }, async () => {
        st.meta.config.WorkingDir = dir;
        const changed = await workdirStep(this.store, st.image, dir, st.meta.config.User);
        return { changed, createdBy: `/bin/sh -c #(nop) WORKDIR ${dir}` };
      }, (c) => (c.WorkingDir = dir));
      return;
    }
    // config-only instructions: computed first (their result is part of nothing but the config)
    const next: MetaState = { ...st.meta, config: structuredClone(st.meta.config) };
    if (!applyMeta(next, step, lookup, this.escape)) throw new BuildError(`unknown instruction: ${k}`);
    if (next.author) st.image = { ...st.image, config: { ...st.image.config, author: next.author } };
    await this.cached(st, { parent, instruction: step.text, args: {}, extra: next.config }, async () => ({
      changed: undefined,
      createdBy: `/bin/sh -c #(nop)  ${step.text}`,
      config: next.config,
    }));
    st.meta.config = next.config;
    st.meta.cmdSet = next.cmdSet;
  }

  runArgv(st: StageState, step: Step): string[] {
    if (!step.heredocs.length) return commandOf(step, st.meta.config);
    const shell = shellOf(st.meta.config);
    const bare = new RegExp(`^<<-?\\s*["']?${step.heredocs[0]!.name}["']?$`).test(step.args.trim());
    if (bare && step.heredocs.length === 1) {
      const body = step.heredocs[0]!.content;
      if (body.startsWith('#!')) return [...shell, body]; // the shell runs the script; its shebang is a comment then
      return [...shell, body];
    }
    return [...shell, `${step.args}\n${step.heredocs.map((h) => `${h.content}${h.name}`).join('\n')}`];
  }

  arg(st: StageState, step: Step): Promise<void> {
    const lookup = this.lookupIn(st);
    for (const p of rawPairs(step.args, this.escape)) {
      const name = p.key;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BuildError(`ARG names can not be blank or contain invalid characters: ${name}`);
      const def = p.value === undefined ? (this.globals.has(name) ? this.globals.get(name) : undefined) : expandWord(p.value, lookup, this.escape);
      const v = this.buildArg(name) ?? def;
      st.args.set(name, v);
    }
    const parent = st.image.id ?? 'scratch';
    // as in Docker, the values do not matter here: the first RUN that sees them misses instead
    return this.cached(st, { parent, instruction: step.text, args: {} }, async () => ({
      changed: undefined,
      createdBy: `/bin/sh -c #(nop)  ${step.text}`,
    }));
  }

  async copy(st: StageState, step: Step, lookup: Lookup, args: Record<string, string>): Promise<void> {
    const add = step.keyword === 'ADD';
    for (const f of step.flags)
      if (!['from', 'chown', 'chmod', 'link'].includes(f.name) || (add && f.name === 'from')) throw new BuildError(`Unknown flag: ${f.name}`);
    const flag = (n: string) => {
      const v = step.flags.find((f) => f.name === n)?.value;
      return v === undefined || v === null ? undefined : expandWord(v, lookup, this.escape);
    };
    let words = step.json ?? expandWords(step.args, lookup, this.escape);
    const inline = new Map(step.heredocs.map((h) => [`<<${h.name}`, h]));
    if (words.length < 2) throw new BuildError(`${step.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    let dest = words.at(-1)!;
    words = words.slice(0, -1);
    if (!path.posix.isAbsolute(dest)) {
      const slash = dest.endsWith('/') || dest === '.' || dest === './';
      dest = path.posix.join(st.meta.config.WorkingDir || '/', dest) + (slash ? '/' : '');
    }
    const fromName = flag('from');
    let src: SourceRoot = { root: this.ctx.dir, ignored: this.ctx.ignored, isContext: true };
    let view: { root: string; close(): void } | undefined;
    let fromId = '';
    if (fromName !== undefined) {
      const byIndex = /^\d+$/.test(fromName) ? this.done[Number(fromName)] : undefined;
      const stageRef = byIndex ?? this.done.find((s) => s.stage.name === fromName.toLowerCase());
      let rec;
      if (stageRef) rec = stageRef.image.record;
      else {
        if (st.stage.name === fromName.toLowerCase()) throw new BuildError(`COPY --from=${fromName}: a stage cannot copy from itself`);
        try {
          rec = resolveImage(this.store, fromName).record;
        } catch (err) {
          throw new BuildError(`COPY --from=${fromName}: ${(err as Error).message}`);
        }
      }
      fromId = rec?.id ?? 'scratch';
      if (rec) {
        view = await openView(this.store, rec);
        src = { root: view.root, isContext: false };
      } else src = { root: '/nonexistent', isContext: false };
    }
    try {
      const items: SourceItem[] = [];
      const files = words.filter((w) => !inline.has(w));
      if (files.length) items.push(...matchSources(src, files));
      for (const w of words) {
        const h = inline.get(w);
        if (h) items.push({ name: h.name, base: h.name, isDir: false, entries: [], inline: Buffer.from(h.expand ? expandVariables(h.content, lookup) : h.content) });
      }
      // inline files keep their position among the sources
      const contentHash = hashSources(items);
      const parent = st.image.id ?? 'scratch';
      const hist = `/bin/sh -c #(nop) ${step.keyword} ${fromName ? `--from=${fromName} ` : ''}${contentHash.slice(0, 19)} in ${dest} `;
      await this.cached(st, { parent, instruction: step.text, args: {}, contentHash, extra: [dest, fromId] }, async () => {
        const changed = await copyStep(this.store, st.image, {
          items,
          dest,
          chown: flag('chown'),
          chmod: flag('chmod'),
          extract: add,
          keepOwners: fromName !== undefined,
        });
        return { changed, createdBy: hist };
      });
    } finally {
      view?.close();
    }
    void args;
  }

  /**
   * The cache around one step: a hit moves the stage to the cached image; a miss runs `exec`,
   * commits its layer (if any) with the stage's config and records the key.
   */
  async cached(
    st: StageState,
    key: Parameters<typeof cacheKey>[0],
    exec: () => Promise<{ changed: Changed | undefined; createdBy: string; config?: ContainerConfigJson }>,
    adjust?: (c: ContainerConfigJson) => void,
  ): Promise<void> {
    const k = cacheKey(key);
    if (!this.opts.noCache) {
      const hit = this.cache.get(k);
      const rec = hit ? usable(this.store, hit) : undefined;
      if (rec) {
        st.image = loadImage(this.store, rec);
        adjust?.(st.meta.config);
        this.out(` ---> Using cache\n ---> ${shortId(rec.id)}\n`);
        return;
      }
    }
    const r = await exec();
    try {
      const config = r.config ?? st.meta.config;
      st.image = await commitStep(this.store, st.image, { layer: r.changed?.layer, config, history: { created_by: r.createdBy } });
    } finally {
      await r.changed?.dispose();
    }
    await this.cache.set(k, st.image.id!);
    this.out(` ---> ${shortId(st.image.id!)}\n`);
  }
}

/** Runs the build; resolves to the final image ID. */
export async function build(engine: Engine, ctx: BuildContext, opts: BuildOptions = {}): Promise<Digest> {
  const store = await engine.store();
  const df = parseDockerfile(ctx.dockerfile, ctx.dockerfileName);
  const b = new Builder(engine, store, ctx, opts, df.escape);
  let last = df.stages.length - 1;
  if (opts.target) {
    last = df.stages.findIndex((s) => s.name === opts.target!.toLowerCase());
    if (last < 0) throw new BuildError(`failed to reach build target ${opts.target} in Dockerfile`);
  }
  const names = (opts.tags ?? []).map((t) => normalizeTagged(t));
  b.total = df.stages.slice(0, last + 1).reduce((n, s) => n + 1 + s.steps.length, 0);
  return store.withStoreLock('shared', async () => {
    for (const a of df.globalArgs) {
      try {
        for (const p of rawPairs(a.args, df.escape)) {
          const def = p.value === undefined ? undefined : expandWord(p.value, (n) => b.globals.get(n), df.escape);
          b.globals.set(p.key, b.buildArg(p.key) ?? def);
        }
      } catch (err) {
        throw atLine(err, ctx.dockerfileName, a.line);
      }
    }
    let st: StageState | undefined;
    for (const stage of df.stages.slice(0, last + 1)) {
      b.line = stage.from.line;
      try {
        st = await b.stage(stage);
      } catch (err) {
        throw atLine(err, ctx.dockerfileName, b.line);
      }
      b.done.push(st);
    }
    st = st!;
    if (opts.labels && Object.keys(opts.labels).length) {
      const config = { ...st.meta.config, Labels: { ...(st.meta.config.Labels ?? {}), ...opts.labels } };
      st.image = await commitStep(store, st.image, { config, history: { created_by: `/bin/sh -c #(nop)  LABEL ${Object.entries(opts.labels).map(([k, v]) => `${k}=${v}`).join(' ')}` } });
      st.meta.config = config;
    }
    if (!st.image.id) st.image = await commitStep(store, st.image, { config: st.meta.config, history: { created_by: '/bin/sh -c #(nop) FROM scratch' } });
    let id = st.image.id!;
    if (opts.squash && st.image.record) {
      const base = st.baseId ? store.images.get(st.baseId) : undefined;
      if (st.image.record.layers.length > (base?.layers.length ?? 0)) {
        const changed = await squashLayers(store, base, st.image.record);
        try {
          const baseImg = base ? loadImage(store, base) : scratchImage(b.platform());
          const history = [...(st.image.config.history ?? [])];
          const baseHist = baseImg.config.history?.length ?? 0;
          const mine = history.slice(baseHist).map((h) => ({ ...h, empty_layer: true }));
          const lastH = mine.pop() ?? { created_by: 'squash' };
          const squashed = await commitStep(
            store,
            { ...baseImg, config: { ...baseImg.config, history: [...history.slice(0, baseHist), ...mine] } },
            { layer: changed.layer, config: st.meta.config, history: { ...lastH, empty_layer: undefined, comment: 'merged by berth build --squash' } },
          );
          id = squashed.id!;
        } finally {
          await changed.dispose();
        }
      }
    }
    await finishImage(store, id, names);
    const unused = Object.keys(opts.buildArgs ?? {}).filter((k) => !b.used.has(k));
    if (unused.length) b.out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    b.out(`Successfully built ${shortId(id)}\n`);
    for (const n of opts.tags ?? []) b.out(`Successfully tagged ${n.includes(':') ? n : `${n}:latest`}\n`);
    if (opts.iidfile) writeFileSync(opts.iidfile, id);
    return id;
  });
}
