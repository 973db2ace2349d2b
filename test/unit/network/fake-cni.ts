/**
 * Fake CNI plugins for unit tests: one POSIX shell script (fast to start, unlike Node), installed
 * under every plugin name a test needs. Each run appends {type, env, stdin} to log.jsonl; "bridge"
 * hands out addresses from a counter file, chained plugins pass prevResult through (berth puts it
 * last in the stdin object, which is what lets sed find it), and a plugin whose config has
 * `"fail":"<COMMAND>"` answers with a CNI error object and exit status 1.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = String.raw`#!/bin/sh
dir=__DIR__
type=$(basename "$0")
in=$(cat)
printf '{"type":"%s","env":{"CNI_COMMAND":"%s","CNI_CONTAINERID":"%s","CNI_NETNS":"%s","CNI_IFNAME":"%s","CNI_ARGS":"%s","CNI_PATH":"%s"},"stdin":%s}\n' \
  "$type" "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" "\${in:-null}" >> "$dir/log.jsonl"
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0; fi
case "$in" in *"\"fail\":\"$CNI_COMMAND\""*) echo '{"cniVersion":"1.0.0","code":7,"msg":"boom","details":"as asked"}'; exit 1;; esac
case "$in" in *"\"failPlain\":\"$CNI_COMMAND\""*) echo 'plain failure' >&2; exit 2;; esac
case "$in" in *"\"hang\":\"$CNI_COMMAND\""*) exec sleep 60;; esac
[ "$CNI_COMMAND" = ADD ] || exit 0
case "$type" in
loopback)
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"%s"}],"ips":[{"address":"127.0.0.1/8","interface":0}]}\n' "$CNI_NETNS";;
bridge)
  # a lock so concurrent ADDs get distinct numbers, as host-local's lock does
  exec 9>"$dir/counter.lock"; flock 9
  n=$(cat "$dir/counter" 2>/dev/null || echo 1); n=$((n + 1)); echo "$n" > "$dir/counter"
  flock -u 9
  net=$(printf '%s' "$in" | sed -E 's/.*"subnet":"([0-9]+\.[0-9]+\.[0-9]+)\.[0-9]+\/[0-9]+".*/\1/')
  gw=$(printf '%s' "$in" | sed -E 's/.*"gateway":"([0-9.]+)".*/\1/')
  br=$(printf '%s' "$in" | sed -E 's/.*"bridge":"([^"]+)".*/\1/')
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","mac":"02:00:00:00:00:01"},{"name":"veth%s","mac":"02:00:00:00:01:%s"},{"name":"%s","mac":"02:00:00:00:02:%s","sandbox":"%s"}],"ips":[{"address":"%s.%s/24","gateway":"%s","interface":2}],"routes":[{"dst":"0.0.0.0/0"}]}\n' \
    "$br" "$n" "$n" "$CNI_IFNAME" "$n" "$CNI_NETNS" "$net" "$n" "$gw";;
*)
  case "$in" in
  *'"prevResult":'*) printf '%s' "$in" | sed -E 's/.*"prevResult":(.*)}$/\1/';;
  *) echo '{"cniVersion":"1.0.0"}';;
  esac;;
esac
`;

export interface FakeCni {
  dir: string;
  /** Every invocation so far, oldest first. */
  log(): { type: string; env: Record<string, string>; stdin: Record<string, unknown> }[];
}

export function makeFakeCni(types: string[] = ['bridge', 'portmap', 'firewall', 'tuning', 'loopback']): FakeCni {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-fakecni-'));
  const body = SCRIPT.replace('__DIR__', `'${dir}'`).replace('\\${in', '${in');
  for (const t of types) {
    const p = path.join(dir, t);
    writeFileSync(p, body);
    chmodSync(p, 0o755);
  }
  return {
    dir,
    log() {
      const f = path.join(dir, 'log.jsonl');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const e = JSON.parse(l) as { type: string; env: Record<string, string>; stdin: Record<string, unknown> | null };
          return { ...e, stdin: e.stdin ?? {} };
        });
    },
  };
}
