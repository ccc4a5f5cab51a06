; Counts the set bits of the 64-bit big-endian number at the start of the packet.
; A socket filter: it runs in the kernel (BPF_PROG_TEST_RUN) and in tsbpf's VM alike.
    r6 = r1                     ; legacy packet loads read through the context in r6
    r0 = *(u32 *)skb[0]
    r7 = r0
    r7 <<= 32
    r0 = *(u32 *)skb[4]
    r7 |= r0
    r0 = 0
    r1 = 64
loop:
    r2 = r7
    r2 &= 1
    r0 += r2
    r7 >>= 1
    r1 -= 1
    if r1 != 0 goto loop
    exit
