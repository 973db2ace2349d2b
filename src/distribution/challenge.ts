/**
 * `WWW-Authenticate` parsing (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` parameters whose values may be quoted strings with backslash
 * escapes. A registry answers 401 with `Basic realm="…"` or with
 * `Bearer realm="…",service="…",scope="…"` (Docker's token authentication).
 */

export interface Challenge {
  /** Lowercased: `basic`, `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : [header]) out.push(...parseOne(h));
  return out;
}

function parseOne(input: string): Challenge[] {
  const out: Challenge[] = [];
  let s = input;
  let current: Challenge | undefined;
  const skip = () => {
    s = s.replace(/^[\s,]+/, '');
  };
  skip();
  while (s.length > 0) {
    const tok = TOKEN.exec(s)?.[0];
    if (!tok) break; // malformed: keep what was understood
    const after = s.slice(tok.length);
    const isParam = /^\s*=/.test(after) && current !== undefined;
    if (!isParam) {
      current = { scheme: tok.toLowerCase(), params: {} };
      out.push(current);
      s = after;
      skip();
      continue;
    }
    s = after.replace(/^\s*=\s*/, '');
    let value = '';
    if (s.startsWith('"')) {
      let i = 1;
      for (; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
      }
      s = s.slice(i + 1);
    } else {
      const m = /^[^,\s]*/.exec(s)![0];
      value = m;
      s = s.slice(m.length);
    }
    current!.params[tok.toLowerCase()] = value;
    skip();
  }
  return out;
}
