/* cpu.c - the CPU's vector level, for the hand-written kernels' dispatch. */
#include "cpu.h"

static int forced = -1;

void sr_cpu_force(int level) { forced = level; }

int sr_cpu_level(void)
{
    static int level = -1;
    if (level < 0) {
        int l = SR_CPU_BASE;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            l = SR_CPU_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            l = SR_CPU_AVX2;
#endif
        level = l;
    }
    return forced >= 0 && forced < level ? forced : level;
}
