/*
 * fuzz_safetensors.c - libFuzzer target: arbitrary bytes as a safetensors
 * file image.  A file that validates must also load: every entry is
 * converted both as float32 and as int64 (one of the two is refused by
 * dtype), and found again by name.
 */
#include "safetensors.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_safetensors st;
    char err[SR_ERRLEN];
    if (sr_st_parse(&st, data, size, "fuzz.safetensors", err) != SR_OK)
        return 0;
    for (int k = 0; k < st.n; k++) {
        const sr_st_entry *e = &st.t[k];
        if (sr_st_find(&st, e->name) != e)
            __builtin_trap(); /* names are unique and sorted: bisect finds each */
        int loaded = 0;
        for (int want = 0; want < 2; want++) {
            sr_tensor t;
            if (sr_st_load(&st, e, want ? SR_I64 : SR_F32, &t, err) == SR_OK) {
                loaded++;
                sr_tensor_free(&t);
            }
        }
        (void)loaded;
    }
    for (int k = 0; k < st.nmeta; k++)
        (void)sr_st_meta(&st, st.meta_key[k]);
    sr_st_close(&st);
    return 0;
}
