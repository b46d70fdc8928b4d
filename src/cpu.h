/*
 * cpu.h - which vector kernels this CPU runs (checked once, at first use).
 */
#ifndef SR_CPU_H
#define SR_CPU_H

enum { SR_CPU_BASE = 0, SR_CPU_AVX2 = 1, SR_CPU_AVX512 = 2 };

/* SR_CPU_AVX512 (AVX-512F), SR_CPU_AVX2 (AVX2 and FMA) or SR_CPU_BASE; never
 * more than sr_cpu_force, or the environment's SEQRUN_ISA (avx2, base),
 * allows. */
int sr_cpu_level(void);

/* Tests: caps the level the kernels use (-1: no cap, the default). */
void sr_cpu_force(int level);

#endif
