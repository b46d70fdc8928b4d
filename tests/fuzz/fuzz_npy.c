/*
 * fuzz_npy.c - libFuzzer target: arbitrary bytes as a stream of .npy
 * records, read the way the runner reads them: peek at the magic, then
 * header after header, each record's elements in small chunks.  The stream
 * is read twice, once converting to float32 and once to int64 (Embedding
 * indices), since the two conversions take different paths.
 */
#include "npy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_stream(const uint8_t *data, size_t size, sr_dtype dt)
{
    sr_stream s;
    sr_npy_header h;
    char err[SR_ERRLEN];
    unsigned char magic[6];
    int64_t buf[64];
    int got;

    sr_stream_mem(&s, data, size, "fuzz.npy");
    long long k = sr_stream_peek(&s, magic, sizeof magic);
    (void)sr_npy_is_magic(magic, k > 0 ? (size_t)k : 0);
    /* Chunk sizes vary with the input so partial reads straddle records'
     * element boundaries in every way. */
    size_t chunk = size ? 1 + data[size - 1] % 64 : 1;
    for (int rec = 0; rec < 1000; rec++) {
        if (sr_npy_read_header(&s, &h, &got, err) != SR_OK || !got)
            break;
        int64_t left = h.numel;
        while (left > 0) {
            size_t n = (uint64_t)left < chunk ? (size_t)left : chunk;
            if (sr_npy_read_elems(&s, &h, n, dt, buf, err) != SR_OK)
                goto done;
            left -= (int64_t)n;
        }
        /* Asking past the end of the record must be refused, not read. */
        if (sr_npy_read_elems(&s, &h, 1, dt, buf, err) == SR_OK)
            __builtin_trap();
    }
done:
    sr_stream_close(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_stream(data, size, SR_F32);
    read_stream(data, size, SR_I64);
    return 0;
}
