import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Assembler, encode } from '../../../src/seccomp/bpf.ts';
import { SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, X32_SYSCALL_BIT } from '../../../src/seccomp/syscalls-x86.ts';
import { runFilter, verify } from './bpf-interp.ts';

/** nr 2 -> 333; nr 1 -> 222 (or the first padding return when its branch falls through); else -> 222, far away. */
function farProgram(padding: number, fallthroughTrue: boolean): Buffer {
  const asm = new Assembler();
  const one = asm.label();
  const other = asm.label();
  asm.load(0);
  asm.jump('jeq', 2, null, one); // nr == 2 falls through
  asm.ret(333);
  asm.bind(one);
  asm.jump('jeq', 1, fallthroughTrue ? null : other, other);
  for (let i = 0; i < padding; i++) asm.ret(1000 + i);
  asm.bind(other);
  asm.ret(222);
  return encode(asm.assemble());
}

test('short jumps are encoded directly', () => {
  const asm = new Assembler();
  const yes = asm.label();
  asm.load(0);
  asm.jump('jge', 10, yes, null);
  asm.ret(1);
  asm.bind(yes);
  asm.ret(2);
  const prog = verify(encode(asm.assemble()));
  assert.equal(prog.length, 4);
  assert.deepEqual(prog[1], { code: 0x35, jt: 1, jf: 0, k: 10 });
  assert.equal(runFilter(encode(asm.assemble()), { arch: 0, nr: 9 }), 1);
  assert.equal(runFilter(encode(asm.assemble()), { arch: 0, nr: 10 }), 2);
});

test('branches farther than 255 instructions go through JA trampolines, both ways', () => {
  for (const padding of [10, 254, 255, 256, 300, 1000]) {
    for (const fallthroughTrue of [false, true]) {
      const filter = farProgram(padding, fallthroughTrue);
      verify(filter);
      assert.equal(runFilter(filter, { arch: 0, nr: 2 }), 333);
      assert.equal(runFilter(filter, { arch: 0, nr: 5 }), 222, `padding ${padding}`);
      assert.equal(runFilter(filter, { arch: 0, nr: 1 }), fallthroughTrue ? 1000 : 222, `padding ${padding}`);
    }
  }
});

test('the interpreter refuses jumps out of the program', () => {
  const bad = Buffer.alloc(16);
  bad.writeUInt16LE(0x15, 0); // jeq #0, +5, +0
  bad.writeUInt8(5, 2);
  bad.writeUInt16LE(0x06, 8); // ret
  assert.throws(() => verify(bad), /out of range/);
  const badJa = Buffer.alloc(16);
  badJa.writeUInt16LE(0x05, 0);
  badJa.writeUInt32LE(1, 4);
  badJa.writeUInt16LE(0x06, 8);
  assert.throws(() => runFilter(badJa, { arch: 0, nr: 0 }), /out of range/);
});

test('a program must end with a return', () => {
  const asm = new Assembler();
  asm.load(0);
  assert.throws(() => asm.assemble(), /must end with a return/);
});

test('syscall tables generated from the kernel headers', () => {
  assert.equal(SYSCALLS_X86_64.read, 0);
  assert.equal(SYSCALLS_X86_64.getpid, 39);
  assert.equal(SYSCALLS_X86_64.clone3, 435);
  assert.equal(SYSCALLS_I386.read, 3);
  assert.equal(SYSCALLS_I386.getpid, 20);
  assert.equal(SYSCALLS_I386.socketcall, 102);
  assert.equal(SYSCALLS_X32.read, 0);
  assert.equal(SYSCALLS_X32.rt_sigaction, 512);
  assert.equal(SYSCALLS_X32.execve, 520);
  assert.equal(X32_SYSCALL_BIT, 0x40000000);
  assert.equal(SYSCALLS_X86_64.waitpid, undefined);
  assert.ok(Object.isFrozen(SYSCALLS_X86_64));
  assert.ok(!Object.hasOwn(SYSCALLS_X86_64, 'constructor'));
});
