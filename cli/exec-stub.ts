// The program `--command` starts its command with: it names itself after its argv[0] (the name a probe's comm()
// gives until the exec), stops itself (SIGSTOP), and once resumed execs its first argument with the rest and its
// environment, keeping its pid. Its fd 3, made close-on-exec, says whether the exec worked: it closes with nothing
// written when it did, and when it did not the stub writes execve's errno there (4 bytes) and exits 127, which a
// command's own status 127 could not tell apart. Without an fd 3 those writes fail harmlessly. A static executable of a few instructions, built here
// as bytes, without libc: a shell in its place (sh -c 'kill -STOP $$ && exec "$@"') runs libc's malloc, strlen, ...
// between the resume and the exec, under the command's pid, which uprobes on libc then counted as the command's.
// Takes the machine architecture (process.arch); gives the ELF file's bytes, or undefined for an architecture it has
// no instructions for (the shell is used there).

/**
 * The instructions, per architecture (each listing is what the bytes assemble from; a test compares them with
 * llvm-mc's encoding where it is installed). At entry the stack holds argc, argv[0..argc-1], NULL, envp.
 */
export const STUB_CODE: Readonly<Record<string, { machine: number; listing: string; bytes: readonly number[] }>> = {
  x64: {
    machine: 62, // EM_X86_64
    listing: `mov rsi, qword ptr [rsp + 8]
mov edi, 15
mov eax, 157
syscall
mov edi, 3
mov esi, 2
mov edx, 1
mov eax, 72
syscall
mov eax, 39
syscall
mov edi, eax
mov esi, 19
mov eax, 62
syscall
mov rcx, qword ptr [rsp]
lea rsi, [rsp + 16]
mov rdi, qword ptr [rsi]
lea rdx, [rsp + 8*rcx + 16]
mov eax, 59
syscall
neg eax
push rax
mov edi, 3
mov rsi, rsp
mov edx, 4
mov eax, 1
syscall
mov edi, 127
mov eax, 231
syscall`,
    // prctl(PR_SET_NAME, argv[0]); fcntl(3, F_SETFD, FD_CLOEXEC); getpid; kill(pid, SIGSTOP);
    // execve(argv[1], &argv[1], envp); if execve returns: write(3, &errno, 4), exit_group(127).
    bytes: [
      0x48, 0x8b, 0x74, 0x24, 0x08, 0xbf, 0x0f, 0x00, 0x00, 0x00, 0xb8, 0x9d, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x03, 0x00, 0x00, 0x00, 0xbe, 0x02, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x48,
      0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x89, 0xc7, 0xbe, 0x13, 0x00, 0x00, 0x00, 0xb8, 0x3e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x8b, 0x0c, 0x24, 0x48, 0x8d, 0x74, 0x24,
      0x10, 0x48, 0x8b, 0x3e, 0x48, 0x8d, 0x54, 0xcc, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xf7, 0xd8, 0x50, 0xbf, 0x03, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xba, 0x04, 0x00, 0x00, 0x00, 0xb8, 0x01,
      0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
    ],
  },
  arm64: {
    machine: 183, // EM_AARCH64
    listing: `ldr x1, [sp, #8]
mov x0, #15
mov x8, #167
svc #0
mov x0, #3
mov x1, #2
mov x2, #1
mov x8, #25
svc #0
mov x8, #172
svc #0
mov x1, #19
mov x8, #129
svc #0
ldr x9, [sp]
add x1, sp, #16
ldr x0, [x1]
add x2, sp, x9, lsl #3
add x2, x2, #16
mov x8, #221
svc #0
neg x0, x0
str x0, [sp, #-16]!
mov x0, #3
mov x1, sp
mov x2, #4
mov x8, #64
svc #0
mov x0, #127
mov x8, #94
svc #0`,
    bytes: words([
      0xf94007e1, 0xd28001e0, 0xd28014e8, 0xd4000001, 0xd2800060, 0xd2800041, 0xd2800022, 0xd2800328, 0xd4000001, 0xd2801588, 0xd4000001, 0xd2800261, 0xd2801028, 0xd4000001, 0xf94003e9, 0x910043e1,
      0xf9400020, 0x8b296fe2, 0x91004042, 0xd2801ba8, 0xd4000001, 0xcb0003e0, 0xf81f0fe0, 0xd2800060, 0x910003e1, 0xd2800082, 0xd2800808, 0xd4000001, 0xd2800fe0, 0xd2800bc8, 0xd4000001,
    ]),
  },
};

function words(list: readonly number[]): number[] {
  return list.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
}

const LOAD_ADDRESS = 0x400000;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

/** A static ELF64 executable of the stub for `arch`: one read-execute segment holding the headers and the code. */
export function execStub(arch: string = process.arch): Uint8Array | undefined {
  const code = STUB_CODE[arch];
  if (!code) return undefined;
  const entry = EHDR_SIZE + PHDR_SIZE;
  const size = entry + code.bytes.length;
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF, 64-bit, little-endian, version 1, System V ABI
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, code.machine, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(LOAD_ADDRESS + entry), true);
  v.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(54, PHDR_SIZE, true);
  v.setUint16(56, 1, true); // e_phnum
  const ph = EHDR_SIZE;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, 5, true); // PF_R | PF_X
  v.setBigUint64(ph + 16, BigInt(LOAD_ADDRESS), true); // p_vaddr
  v.setBigUint64(ph + 24, BigInt(LOAD_ADDRESS), true); // p_paddr
  v.setBigUint64(ph + 32, BigInt(size), true); // p_filesz
  v.setBigUint64(ph + 40, BigInt(size), true); // p_memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // p_align
  bytes.set(code.bytes, entry);
  return bytes;
}
