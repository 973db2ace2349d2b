/**
 * A Dockerfile as build stages of steps. dockerfile-ast does the parsing (continuations, comments,
 * parser directives, heredocs, flags); this module only checks what Docker rejects before running
 * anything (unknown instructions, instructions before the first FROM, an empty file) and keeps,
 * per step, what the builder needs: keyword, line, flags, the argument text, exec form, heredocs.
 */
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { BuildError } from './errors.ts';

export const INSTRUCTIONS: ReadonlySet<string> = new Set([
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
  'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
]);

export interface Heredoc {
  name: string;
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`): no variable expansion in the content. */
  expand: boolean;
}

export interface Step {
  keyword: string;
  /** 1-based. */
  line: number;
  flags: { name: string; value: string | null }[];
  /** The arguments after the flags, continuations joined (for heredoc steps: the first line only). */
  args: string;
  /** The exec (JSON) form, when the arguments are a JSON array of strings. */
  json: string[] | undefined;
  heredocs: Heredoc[];
  /** `KEYWORD flags args` as written, for history and the cache key. */
  text: string;
}

export interface Stage {
  index: number;
  /** `AS name`, lower-cased as Docker compares it. */
  name: string | undefined;
  from: Step;
  steps: Step[];
}

export interface ParsedDockerfile {
  escape: string;
  /** ARGs before the first FROM. */
  globalArgs: Step[];
  stages: Stage[];
}

/** JSON array of strings, or undefined (then Docker falls back to the shell form). */
export function jsonForm(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

function flagsOf(i: Instruction): Step['flags'] {
  const f = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags;
  return f ? f.call(i).map((x) => ({ name: x.getName(), value: x.getValue() })) : [];
}

function heredocsOf(i: Instruction, lines: string[], firstLine: string): Heredoc[] {
  const g = (i as unknown as { getHeredocs?: () => { getName(): string; getContentRange(): { start: { line: number }; end: { line: number } } | null }[] }).getHeredocs;
  if (!g) return [];
  return g.call(i).map((h) => {
    const r = h.getContentRange();
    const content = r ? lines.slice(r.start.line, r.end.line + 1).join('\n') + '\n' : '';
    const quoted = new RegExp(`<<-?\\s*(["'])${h.getName()}\\1`).test(firstLine);
    const strip = new RegExp(`<<-\\s*["']?${h.getName()}`).test(firstLine);
    return { name: h.getName(), content: strip ? content.replace(/^\t+/gm, '') : content, expand: !quoted };
  });
}

function toStep(i: Instruction, lines: string[]): Step {
  const keyword = i.getKeyword().toUpperCase();
  const line = i.getRange().start.line + 1;
  const flags = flagsOf(i);
  let args = i.getArgumentsContent() ?? '';
  const heredocs = ['RUN', 'COPY', 'ADD'].includes(keyword) && /<<-?\s*["']?[A-Za-z_]/.test(args) ? heredocsOf(i, lines, args.split('\n')[0]!) : [];
  if (heredocs.length) args = args.split('\n')[0]!;
  const flagText = flags.map((f) => (f.value === null ? `--${f.name}` : `--${f.name}=${f.value}`)).join(' ');
  return {
    keyword,
    line,
    flags,
    args: args.trim(),
    json: ['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME', 'COPY', 'ADD'].includes(keyword) && !heredocs.length ? jsonForm(args) : undefined,
    heredocs,
    text: `${keyword}${flagText ? ` ${flagText}` : ''} ${args.trim()}`.trimEnd(),
  };
}

/** Parses one instruction line (an ONBUILD trigger). */
export function parseInstruction(text: string, escape = '\\'): Step {
  const src = escape === '\\' ? text : `# escape=${escape}\n${text}`;
  const ins = DockerfileParser.parse(src).getInstructions();
  if (ins.length !== 1) throw new BuildError(`invalid instruction: ${text}`);
  const step = toStep(ins[0]!, src.split('\n'));
  if (!INSTRUCTIONS.has(step.keyword)) throw new BuildError(`unknown instruction: ${step.keyword}`);
  return step;
}

export function parseDockerfile(source: string, file = 'Dockerfile'): ParsedDockerfile {
  const df = DockerfileParser.parse(source);
  const lines = source.split(/\r?\n/);
  const out: ParsedDockerfile = { escape: df.getEscapeCharacter(), globalArgs: [], stages: [] };
  for (const i of df.getInstructions()) {
    const step = toStep(i, lines);
    if (!INSTRUCTIONS.has(step.keyword)) throw new BuildError(`${file}:${step.line}: unknown instruction: ${i.getKeyword()}`, step.line);
    if (step.keyword === 'FROM') {
      const words = step.args.split(/\s+/).filter(Boolean);
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toLowerCase() === 'as'))
        throw new BuildError(`${file}:${step.line}: FROM requires either one or three arguments`, step.line);
      const name = words[2]?.toLowerCase();
      if (name !== undefined && !/^[a-z][a-z0-9._-]*$/.test(name))
        throw new BuildError(`${file}:${step.line}: invalid name for build stage: "${words[2]}"`, step.line);
      if (name && out.stages.some((s) => s.name === name))
        throw new BuildError(`${file}:${step.line}: duplicate name for build stage: "${words[2]}"`, step.line);
      out.stages.push({ index: out.stages.length, name, from: step, steps: [] });
      continue;
    }
    const stage = out.stages.at(-1);
    if (!stage) {
      if (step.keyword === 'ARG') {
        out.globalArgs.push(step);
        continue;
      }
      throw new BuildError(`${file}:${step.line}: no build stage in current context: ${step.keyword} before the first FROM`, step.line);
    }
    stage.steps.push(step);
  }
  if (out.stages.length === 0) throw new BuildError(`${file}: no FROM instruction: a Dockerfile must start a build stage with FROM`);
  return out;
}
