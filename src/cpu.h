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

/* x86-64 with GCC or clang: the hand-written AVX-512 / AVX2 kernels exist. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SR_X86 1
#define SR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SR_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define SR_TARGET_AVX512
#define SR_TARGET_AVX2
#endif

/*
 * Simple loops the compiler vectorises, built three times (AVX-512, AVX2,
 * baseline) from one body and chosen per call by sr_cpu_level(), so
 * SEQRUN_ISA reaches every variant and the test suite runs each.  FP
 * contraction stays off (-std=c11), so all three give the same bits.
 *
 *     SR_VEC_VOID(relu_rows, (const float *x, float *y, size_t n), (x, y, n))
 *     {
 *         for (size_t i = 0; i < n; i++) ...
 *     }
 *
 * defines `void relu_rows(const float *x, float *y, size_t n)`; put
 * `static` before it for a file-local one.  SR_VEC_FN(type, ...) is the
 * same for a function returning type.
 */
#define SR_VEC_OPT __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#define SR_VEC_FN(ret, name, params, args)                                                     \
    ret name params;                                                                           \
    static inline __attribute__((always_inline)) ret name##_body params;                       \
    SR_VEC_OPT SR_TARGET_AVX512 static ret name##_avx512 params { return name##_body args; }   \
    SR_VEC_OPT SR_TARGET_AVX2 static ret name##_avx2 params { return name##_body args; }       \
    SR_VEC_OPT static ret name##_base params { return name##_body args; }                      \
    ret name params                                                                            \
    {                                                                                          \
        int lvl_ = sr_cpu_level();                                                             \
        return lvl_ == SR_CPU_AVX512 ? name##_avx512 args                                      \
             : lvl_ == SR_CPU_AVX2 ? name##_avx2 args : name##_base args;                      \
    }                                                                                          \
    static inline __attribute__((always_inline)) ret name##_body params
#define SR_VEC_VOID(name, params, args)                                                        \
    void name params;                                                                          \
    static inline __attribute__((always_inline)) void name##_body params;                      \
    SR_VEC_OPT SR_TARGET_AVX512 static void name##_avx512 params { name##_body args; }         \
    SR_VEC_OPT SR_TARGET_AVX2 static void name##_avx2 params { name##_body args; }             \
    SR_VEC_OPT static void name##_base params { name##_body args; }                            \
    void name params                                                                           \
    {                                                                                          \
        int lvl_ = sr_cpu_level();                                                             \
        if (lvl_ == SR_CPU_AVX512)                                                             \
            name##_avx512 args;                                                                \
        else if (lvl_ == SR_CPU_AVX2)                                                          \
            name##_avx2 args;                                                                  \
        else                                                                                   \
            name##_base args;                                                                  \
    }                                                                                          \
    static inline __attribute__((always_inline)) void name##_body params

#endif
