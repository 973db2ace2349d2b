/**
 * Image commands, with Docker's flags and output: import, images, image inspect/ls/rm/prune/
 * history/tag/save/load/squash, history, tag, rmi, save, load, system df. Handlers only parse,
 * call the image library (loaded lazily) and print.
 */
import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../../../common/errors.ts';

interface Globals {
  root: string;
}

async function store(cmd: Command) {
  const { Store } = await import('../../../store/store.ts');
  return Store.open((cmd.optsWithGlobals() as Globals).root);
}

function out(s: string): void {
  process.stdout.write(s);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function addImages(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('List images')
    .argument('[reference]', 'only images matching REPOSITORY[:TAG]')
    .option('-a, --all', 'show all images (berth keeps no intermediate images)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .option(
      '-f, --filter <filter>',
      'filter output (dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE])',
      collect,
      [],
    )
    .option('--format <format>', "'json' or a Go template")
    .action(async (reference: string | undefined, o, c: Command) => {
      const { listImages } = await import('../../../image/query.ts');
      const { renderTemplate, table } = await import('../../../image/format.ts');
      const s = await store(c);
      let dangling: boolean | undefined;
      const patterns: string[] = reference ? [reference] : [];
      const before: string[] = [];
      const since: string[] = [];
      const labels: string[] = [];
      for (const f of o.filter as string[]) {
        const eq = f.indexOf('=');
        const [k, v] = eq < 0 ? [f, ''] : [f.slice(0, eq), f.slice(eq + 1)]; // label=a=b keeps its '='
        if (k === 'dangling') {
          if (!['true', '1', 'false', '0'].includes(v)) throw new InvalidArgumentError(`invalid filter 'dangling=${v}'`, 'use dangling=true or dangling=false');
          dangling = v === 'true' || v === '1';
        } else if (k === 'reference') patterns.push(v);
        else if (k === 'before') before.push(v);
        else if (k === 'since') since.push(v);
        else if (k === 'label') labels.push(v);
        else throw new InvalidArgumentError(`invalid filter '${k}'`);
      }
      let rows = listImages(s, { all: o.all, before, since, labels, ...(dangling === undefined ? {} : { filterDangling: dangling }) });
      if (patterns.length) {
        const glob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
        rows = rows.filter((r) =>
          patterns.some((p) => {
            const [repo, tag] = p.includes(':') ? (p.split(':', 2) as [string, string]) : [p, undefined];
            return glob(repo).test(r.Repository) && (tag === undefined || glob(tag).test(r.Tag));
          }),
        );
      }
      if (!o.trunc) rows = rows.map((r) => ({ ...r, ID: `sha256:${s.images.list().find((x) => x.id.slice(7).startsWith(r.ID))?.id.slice(7) ?? r.ID}` }));
      if (o.quiet) {
        out([...new Set(rows.map((r) => r.ID))].map((id) => `${id}\n`).join(''));
        return;
      }
      if (o.format === 'json') {
        out(rows.map((r) => JSON.stringify(r) + '\n').join(''));
        return;
      }
      if (o.format) {
        out(rows.map((r) => renderTemplate(o.format, r) + '\n').join(''));
        return;
      }
      const head = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
      out(table(head, rows.map((r) => [r.Repository, r.Tag, ...(o.digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size])));
    });
}

function addInspect(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Display detailed information on one or more images')
    .argument('<image...>')
    .option('-f, --format <format>', 'format with a Go template')
    .action(async (refs: string[], o, c: Command) => {
      const { inspectImage } = await import('../../../image/query.ts');
      const { renderTemplate } = await import('../../../image/format.ts');
      const s = await store(c);
      const docs = refs.map((r) => inspectImage(s, r));
      if (o.format && o.format !== 'json') out(docs.map((d) => renderTemplate(o.format, d) + '\n').join(''));
      else out(JSON.stringify(docs, null, 4) + '\n');
    });
}

function addHistory(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Show the history of an image')
    .argument('<image>')
    .option('-H, --human', 'print sizes and dates in human readable format', true)
    .option('--no-trunc', "don't truncate output")
    .option('-q, --quiet', 'only show image IDs')
    .option('--format <format>', "'json' or a Go template")
    .action(async (ref: string, o, c: Command) => {
      const { imageHistory } = await import('../../../image/query.ts');
      const { humanSize, renderTemplate, table } = await import('../../../image/format.ts');
      const { shortId } = await import('../../../store/digest.ts');
      // As Docker's history formatter: truncation (IDs to 12 digits, CREATED BY to 45 characters,
      // tabs as spaces) applies to every output form, the table, -q, --format and json alike,
      // and --no-trunc turns it off for all of them.
      const id = (v: string) => (v === '<missing>' || !o.trunc ? v : shortId(v));
      const by = (v: string) => {
        const flat = v.replaceAll('\t', ' ');
        return o.trunc && flat.length > 45 ? `${flat.slice(0, 44)}…` : flat;
      };
      const rows = imageHistory(await store(c), ref).map((r) => ({ ...r, ID: id(r.ID), CreatedBy: by(r.CreatedBy) }));
      if (o.quiet) return out(rows.map((r) => `${r.ID}\n`).join(''));
      if (o.format === 'json') return out(rows.map((r) => JSON.stringify({ ...r, Size: humanSize(r.Size) }) + '\n').join(''));
      if (o.format) return out(rows.map((r) => renderTemplate(o.format, r) + '\n').join('')); // {{.Size}}: bytes, as scripts expect
      out(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, humanSize(r.Size), r.Comment])));
    });
}

function addTag(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>')
    .argument('<target>')
    .action(async (src: string, dst: string, _o, c: Command) => {
      const { tagImage } = await import('../../../image/remove.ts');
      await tagImage(await store(c), src, dst);
    });
}

function addRmi(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'force removal of the image')
    .action(async (refs: string[], o, c: Command) => {
      const { removeImages } = await import('../../../image/remove.ts');
      const r = await removeImages(await store(c), refs, { force: o.force });
      out(r.untagged.map((t) => `Untagged: ${t}\n`).join('') + r.deleted.map((d) => `Deleted: ${d}\n`).join(''));
    });
}

function addPrune(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Remove unused images')
    .option('-a, --all', 'remove all images not used by a container, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o, c: Command) => {
      if (!o.force && process.stdin.isTTY) {
        const { createInterface } = await import('node:readline/promises');
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const what = o.all ? 'all images without at least one container associated to them' : 'all dangling images';
        const a = await rl.question(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(a.trim())) return;
      }
      const { pruneImages } = await import('../../../image/remove.ts');
      const { humanSize } = await import('../../../image/format.ts');
      const r = await pruneImages(await store(c), { all: o.all });
      if (r.untagged.length || r.deleted.length)
        out('Deleted Images:\n' + r.untagged.map((t) => `untagged: ${t}\n`).join('') + r.deleted.map((d) => `deleted: ${d}\n`).join('') + '\n');
      out(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    });
}

function addSave(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>')
    .option('-o, --output <file>', 'write to a file, instead of STDOUT')
    .addOption(new Option('--format <format>', 'archive format').choices(['docker-archive', 'oci-archive']).default('docker-archive'))
    .action(async (refs: string[], o, c: Command) => {
      const { saveImages } = await import('../../../image/save.ts');
      const s = await store(c);
      if (!o.output) {
        if (process.stdout.isTTY) throw new InvalidArgumentError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        return saveImages(s, refs, o.format, process.stdout);
      }
      const { createWriteStream, renameSync, rmSync } = await import('node:fs');
      const tmp = `${o.output}.berth-tmp-${process.pid}`;
      try {
        await saveImages(s, refs, o.format, createWriteStream(tmp, { mode: 0o644 }));
        renameSync(tmp, o.output);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    });
}

function addLoad(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Load images from a tar archive (Docker or OCI) or an OCI layout directory')
    .option('-i, --input <file>', 'read from a file or directory instead of STDIN', '-')
    .option('-q, --quiet', 'suppress the load output')
    .action(async (o, c: Command) => {
      if (o.input === '-' && process.stdin.isTTY)
        throw new InvalidArgumentError('requested load from stdin, but stdin is empty', 'use -i FILE or redirect');
      const { loadImages } = await import('../../../image/load.ts');
      const { familiarName, splitTagged } = await import('../../../image/reference.ts');
      const loaded = await loadImages(await store(c), o.input);
      if (o.quiet) return;
      for (const img of loaded) {
        if (img.names.length === 0) out(`Loaded image ID: ${img.id}\n`);
        for (const n of img.names) {
          const { repository, tag } = splitTagged(n);
          out(`Loaded image: ${familiarName(repository)}:${tag}\n`);
        }
      }
    });
}

function addImport(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'a tarball (plain, gzip or zstd) or - for STDIN')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, ...)', collect, [])
    .option('-m, --message <message>', 'set the commit message for the imported image')
    .option('--platform <platform>', 'set the platform (os/arch)')
    .action(async (file: string, ref: string | undefined, o, c: Command) => {
      const { importTarball } = await import('../../../image/import.ts');
      const [os, architecture] = o.platform ? (o.platform as string).split('/') : [];
      const id = await importTarball(await store(c), file, ref, {
        changes: o.change,
        message: o.message,
        ...(o.platform ? { platform: { os, architecture } } : {}),
      });
      out(`${id}\n`);
    });
}

function addSquash(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('Merge all layers of an image into one (whiteouts applied) as a new image')
    .argument('<image>')
    .argument('<new-reference>')
    .action(async (ref: string, newRef: string, _o, c: Command) => {
      const { squashImage } = await import('../../../image/squash.ts');
      out(`${await squashImage(await store(c), ref, newRef)}\n`);
    });
}

function addDf(cmd: Command): Command {
  return cmd
    .command('df')
    .description('Show disk usage')
    .option('--format <format>', "'json' or a Go template")
    .action(async (o, c: Command) => {
      const { systemDf } = await import('../../../image/query.ts');
      const { renderTemplate, table } = await import('../../../image/format.ts');
      const rows = systemDf(await store(c));
      if (o.format === 'json') return out(rows.map((r) => JSON.stringify(r) + '\n').join(''));
      if (o.format) return out(rows.map((r) => renderTemplate(o.format, r) + '\n').join(''));
      out(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows.map((r) => [r.Type, String(r.TotalCount), String(r.Active), r.Size, r.Reclaimable])));
    });
}

/** Registers the image commands (top-level Docker aliases and the `image` group) and `system df`. */
export function registerImageCommands(program: Command): void {
  addImages(program, 'images');
  addHistory(program, 'history');
  addTag(program, 'tag');
  addRmi(program, 'rmi');
  addSave(program, 'save');
  addLoad(program, 'load');
  addImport(program, 'import');
  const image = program.command('image').description('Manage images');
  addImages(image, 'ls').alias('list');
  addInspect(image, 'inspect');
  addHistory(image, 'history');
  addTag(image, 'tag');
  addRmi(image, 'rm').alias('remove');
  addPrune(image, 'prune');
  addSave(image, 'save');
  addLoad(image, 'load');
  addImport(image, 'import');
  addSquash(image, 'squash');
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('Manage berth');
  addDf(system);
}
