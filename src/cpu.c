/* cpu.c - the CPU's vector level, for the hand-written kernels' dispatch. */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

static int forced = -1;

void sr_cpu_force(int level) { forced = level; }

int sr_cpu_level(void)
{
    static int level = -1;
    if (level < 0) {
        int l = SR_CPU_BASE;
#ifdef SR_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            l = SR_CPU_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            l = SR_CPU_AVX2;
#endif
        /* SEQRUN_ISA=avx2 or base caps it (to test the other kernels on a
         * machine that has more); it never raises it */
        const char *isa = getenv("SEQRUN_ISA");
        if (isa && !strcmp(isa, "base"))
            l = SR_CPU_BASE;
        else if (isa && !strcmp(isa, "avx2") && l > SR_CPU_AVX2)
            l = SR_CPU_AVX2;
        level = l;
    }
    return forced >= 0 && forced < level ? forced : level;
}
