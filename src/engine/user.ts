/**
 * `-u name|uid[:group|gid]` → numeric ids, from the image's /etc/passwd and /etc/group as
 * runc's user lookup does it (supplementary groups come from /etc/group membership).
 */
import { InvalidArgumentError } from '../common/errors.ts';

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

function parseDb(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function resolveUser(spec: string, passwd: string | undefined, group: string | undefined): ExecUser {
  const [u = '', g] = spec ? spec.split(':', 2) : ['0'];
  const users = parseDb(passwd);
  const groups = parseDb(group);
  let uid: number;
  let gid = 0;
  let home = '/';
  let username: string | undefined;
  const entry = users.find((e) => e[0] === u) ?? (/^\d+$/.test(u) ? users.find((e) => e[2] === u) : undefined);
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
    username = entry[0];
  } else if (/^\d+$/.test(u)) {
    uid = Number(u);
  } else {
    throw new InvalidArgumentError(`unable to find user ${u}: no matching entries in passwd file`);
  }
  if (g !== undefined) {
    const ge = groups.find((e) => e[0] === g) ?? (/^\d+$/.test(g) ? groups.find((e) => e[2] === g) : undefined);
    if (ge) gid = Number(ge[2]);
    else if (/^\d+$/.test(g)) gid = Number(g);
    else throw new InvalidArgumentError(`unable to find group ${g}: no matching entries in group file`);
  }
  const additionalGids =
    g === undefined && username
      ? groups.filter((e) => (e[3] ?? '').split(',').includes(username) && Number(e[2]) !== gid).map((e) => Number(e[2]))
      : [];
  return { uid, gid, additionalGids, home };
}
