/**
 * Loads a compiled filter into the real kernel. Until berth's native helper exists, a throwaway C
 * program (built here with `cc`) reads the filter bytes, sets no_new_privs, calls
 * seccomp(SECCOMP_SET_MODE_FILTER) and reports what a few syscalls return under the filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSeccomp, defaultSeccompProfile, DOCKER_DEFAULT_CAPABILITIES } from '../../src/seccomp/index.ts';
import type { Seccomp } from '../../src/oci/runtime-spec.ts';

const LOADER_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

static void report(const char *what, long rc) {
  int e = rc < 0 ? errno : 0;
  printf("%s %ld %d\n", what, rc, e);
}

int main(int argc, char **argv) {
  if (argc != 4) return 64;
  static struct sock_filter insns[4096];
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror("open filter"); return 65; }
  size_t n = fread(insns, sizeof(insns[0]), 4096, f);
  fclose(f);
  struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
  unsigned long flags = strtoul(argv[2], NULL, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("no_new_privs"); return 66; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog)) { perror("seccomp"); return 67; }
  report("mkdir", mkdir(argv[3], 0700));
  report("getpid", syscall(SYS_getpid));
  report("unshare", unshare(CLONE_NEWUSER));
  report("clone3", syscall(435, NULL, 0));
  report("personality", syscall(SYS_personality, 0x0040000UL));
  report("fchmodat2", syscall(452, AT_FDCWD, "/nonexistent-berth", 0, 0));
  fflush(stdout);
  return 0;
}
`;

const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasCc ? false : 'no C compiler (cc) to build the loader';

test('a compiled profile loads into the kernel and decides real syscalls', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    const src = join(dir, 'loader.c');
    const bin = join(dir, 'loader');
    writeFileSync(src, LOADER_C);
    const cc = spawnSync('cc', ['-O2', '-Wall', '-o', bin, src], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);

    // Docker's default policy, with mkdir(at) turned into EACCES by a rule placed first.
    const base = defaultSeccompProfile([...DOCKER_DEFAULT_CAPABILITIES]);
    const profile: Seccomp = {
      ...base,
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }, ...(base.syscalls ?? [])],
    };
    const { filter, flags } = compileSeccomp(profile);
    const filterFile = join(dir, 'filter.bpf');
    writeFileSync(filterFile, filter);
    const target = join(dir, 'made-by-loader');

    const run = spawnSync(bin, [filterFile, String(flags), target], { encoding: 'utf8' });
    assert.equal(run.status, 0, `loader exited ${run.status}: ${run.stderr}`);
    const results = new Map(
      run.stdout.trim().split('\n').map((line) => {
        const [what, rc, err] = line.split(' ');
        return [what!, { rc: Number(rc), errno: Number(err) }] as const;
      }),
    );
    assert.deepEqual(results.get('mkdir'), { rc: -1, errno: 13 }, 'mkdir denied with EACCES');
    assert.ok(!existsSync(target), 'the directory was not created');
    assert.ok(results.get('getpid')!.rc > 0, 'getpid allowed');
    assert.deepEqual(results.get('unshare'), { rc: -1, errno: 1 }, 'unshare denied with EPERM');
    assert.deepEqual(results.get('clone3'), { rc: -1, errno: 38 }, 'clone3 answered ENOSYS');
    assert.deepEqual(results.get('personality'), { rc: -1, errno: 1 }, 'ADDR_NO_RANDOMIZE personality denied');
    // Newer than berth's syscall tables: the runc-style stub answers ENOSYS instead of EPERM.
    assert.deepEqual(results.get('fchmodat2'), { rc: -1, errno: 38 });

    // Control: the same program without a filter really makes the directory.
    const allowAll = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' });
    writeFileSync(filterFile, allowAll.filter);
    const control = spawnSync(bin, [filterFile, String(allowAll.flags), target], { encoding: 'utf8' });
    assert.equal(control.status, 0, control.stderr);
    assert.match(control.stdout, /^mkdir 0 0$/m);
    assert.ok(existsSync(target));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
