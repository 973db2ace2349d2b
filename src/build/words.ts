/**
 * Docker's word processing for instruction arguments: quotes, the escape character and
 * `$VAR` / `${VAR}` / `${VAR:-default}` / `${VAR:+alt}` (and their colon-less forms) expansion.
 * The parser (dockerfile-ast) gives us the logical line; what a word *means* after expansion is
 * the builder's business, and Docker defines it by its own lexer, not by POSIX sh: no command
 * substitution, no globbing, and single quotes are literal.
 */
import { BuildError } from './errors.ts';

export type Lookup = (name: string) => string | undefined;

interface Out {
  words: string[];
  cur: string;
  /** The current word has content (an empty "" still makes a word). */
  started: boolean;
}

function isNameChar(c: string | undefined, first: boolean): boolean {
  return !!c && (first ? /[A-Za-z_]/.test(c) : /[A-Za-z0-9_]/.test(c));
}

class Lexer {
  readonly s: string;
  readonly esc: string;
  readonly env: Lookup;
  readonly split: boolean;
  readonly quotes: boolean;
  i = 0;
  constructor(s: string, env: Lookup, esc: string, split: boolean, quotes = true) {
    this.s = s;
    this.env = env;
    this.esc = esc;
    this.split = split;
    this.quotes = quotes;
  }

  private push(o: Out, text: string, quoted: boolean): void {
    if (quoted || !this.split) {
      o.cur += text;
      o.started = true;
      return;
    }
    for (const ch of text) {
      if (/\s/.test(ch)) {
        if (o.started) o.words.push(o.cur);
        o.cur = '';
        o.started = false;
      } else {
        o.cur += ch;
        o.started = true;
      }
    }
  }

  run(): string[] {
    const o: Out = { words: [], cur: '', started: false };
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === this.esc) {
        this.i++;
        if (this.i < s.length) this.push(o, s[this.i++]!, true);
        continue;
      }
      if (c === "'" && this.quotes) {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) throw new BuildError('unexpected end of statement while looking for matching single-quote');
        this.push(o, s.slice(this.i + 1, end), true);
        this.i = end + 1;
        continue;
      }
      if (c === '"' && this.quotes) {
        this.i++;
        let text = '';
        for (;;) {
          if (this.i >= s.length) throw new BuildError('unexpected end of statement while looking for matching double-quote');
          const d = s[this.i]!;
          if (d === '"') {
            this.i++;
            break;
          }
          if (d === this.esc && this.i + 1 < s.length && ['"', '$', this.esc].includes(s[this.i + 1]!)) {
            text += s[this.i + 1];
            this.i += 2;
            continue;
          }
          if (d === '$') {
            text += this.dollar();
            continue;
          }
          text += d;
          this.i++;
        }
        this.push(o, text, true);
        continue;
      }
      if (c === '$') {
        this.push(o, this.dollar(), false);
        continue;
      }
      this.push(o, c, false);
      this.i++;
    }
    if (o.started || !this.split) o.words.push(o.cur);
    return o.words;
  }

  /** At a `$`: the expansion (or a literal `$`). */
  private dollar(): string {
    const s = this.s;
    this.i++; // the $
    if (s[this.i] === '{') {
      const start = this.i + 1;
      let j = start;
      while (isNameChar(s[j], j === start)) j++;
      const name = s.slice(start, j);
      if (!name) throw new BuildError(`bad substitution: \${${s.slice(start, s.indexOf('}', start))}}`);
      if (s[j] === '}') {
        this.i = j + 1;
        return this.env(name) ?? '';
      }
      let op = s[j]!;
      j++;
      if (op === ':') {
        op += s[j] ?? '';
        j++;
      }
      if (![':-', ':+', ':?', '-', '+', '?'].includes(op)) throw new BuildError(`unsupported modifier (${op}) in substitution`);
      // the word up to the matching brace, itself expanded
      let depth = 0;
      let k = j;
      for (; k < s.length; k++) {
        if (s[k] === this.esc) {
          k++;
          continue;
        }
        if (s[k] === '{') depth++;
        else if (s[k] === '}') {
          if (depth === 0) break;
          depth--;
        }
      }
      if (k >= s.length) throw new BuildError(`missing '}' in substitution of ${name}`);
      const word = expandWord(s.slice(j, k), this.env, this.esc);
      this.i = k + 1;
      const v = this.env(name);
      const colon = op.startsWith(':');
      const set = colon ? v !== undefined && v !== '' : v !== undefined;
      switch (op.replace(':', '')) {
        case '-':
          return set ? v! : word;
        case '+':
          return set ? word : '';
        default:
          if (!set) throw new BuildError(`${name}: ${word || 'is not allowed to be unset'}`);
          return v!;
      }
    }
    if (isNameChar(s[this.i], true)) {
      let j = this.i;
      while (isNameChar(s[j], j === this.i)) j++;
      const name = s.slice(this.i, j);
      this.i = j;
      return this.env(name) ?? '';
    }
    return '$';
  }
}

/** One word: quotes removed, escapes and variables processed, whitespace kept (ENV values, WORKDIR). */
export function expandWord(s: string, env: Lookup, esc = '\\'): string {
  return new Lexer(s, env, esc, false).run()[0] ?? '';
}

/** Only `$VAR`/`${VAR…}` expanded, quotes and backslashes literal (heredoc bodies). */
export function expandVariables(s: string, env: Lookup): string {
  return new Lexer(s, env, '\u0000', false, false).run()[0] ?? '';
}

/** Words separated by unquoted whitespace, each expanded (COPY sources, EXPOSE, VOLUME). */
export function expandWords(s: string, env: Lookup, esc = '\\'): string[] {
  return new Lexer(s, env, esc, true).run();
}

/**
 * Splits at unquoted whitespace without expanding anything (quotes and escapes kept), for
 * `key=value` lists (ENV, LABEL, ARG) whose values are expanded one by one afterwards.
 */
export function splitRaw(s: string, esc = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === esc && i + 1 < s.length && quote !== "'") {
      cur += c + s[++i];
      continue;
    }
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      cur += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (quote) throw new BuildError(`unexpected end of statement while looking for matching ${quote === '"' ? 'double' : 'single'}-quote`);
  if (cur) out.push(cur);
  return out;
}

/** `key=value` pairs (raw key and value), the `=` found outside quotes. */
export function rawPairs(s: string, esc = '\\'): { key: string; value: string | undefined }[] {
  return splitRaw(s, esc).map((w) => {
    let quote: string | undefined;
    for (let i = 0; i < w.length; i++) {
      const c = w[i]!;
      if (c === esc && quote !== "'") {
        i++;
        continue;
      }
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '=') return { key: w.slice(0, i), value: w.slice(i + 1) };
    }
    return { key: w, value: undefined };
  });
}
