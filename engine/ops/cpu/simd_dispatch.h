// Kernels compiled twice, for the build's baseline instruction set and for AVX2 + FMA, with the
// choice made per call from the CPU's features. The build targets plain x86-64 (SSE2), where a
// float loop runs 4 lanes wide at best; the AVX2 copy runs 8, and the same C source serves both.
//
// Use: write the kernel body as a YL_CPU_KERNEL_BODY function (a void function whose loops carry
// `#pragma omp simd`, which asks GCC to vectorise them whatever its cost model says at -O2), then
// YL_CPU_DISPATCH(name, (params), (args)) defines `void name(params)` calling name_body's AVX2
// or baseline copy (YL_CPU_DISPATCH_STATIC: a static one). Elsewhere (not x86, or not GCC or
// Clang) only the baseline copy exists.
#pragma once
#include <stdbool.h>

#define YL_CPU_KERNEL_BODY static inline __attribute__((always_inline)) void

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
static inline bool yl_cpu_has_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#define YL_CPU_DISPATCH_WITH(linkage, name, params, args)                                      \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; } \
    static void name##_baseline params { name##_body args; }                                  \
    linkage void name params {                                                                  \
        if (yl_cpu_has_avx2_fma())                                                              \
            name##_avx2 args;                                                                   \
        else                                                                                    \
            name##_baseline args;                                                               \
    }
#else
#define YL_CPU_DISPATCH_WITH(linkage, name, params, args) \
    linkage void name params { name##_body args; }
#endif

// An external function, and one local to its file.
#define YL_CPU_DISPATCH(name, params, args) YL_CPU_DISPATCH_WITH(, name, params, args)
#define YL_CPU_DISPATCH_STATIC(name, params, args) YL_CPU_DISPATCH_WITH(static, name, params, args)
