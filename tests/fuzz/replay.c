/*
 * replay.c - a main() for the fuzz targets where libFuzzer is not available
 * (gcc, the sanitized test build): runs LLVMFuzzerTestOneInput once per file
 * named on the command line, so the regression suite replays every input
 * that once crashed with whatever compiler and sanitizers the build uses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        size_t cap = 4096, len = 0;
        unsigned char *buf = malloc(cap);
        for (;;) {
            if (!buf) {
                fprintf(stderr, "%s: out of memory\n", argv[i]);
                return 2;
            }
            len += fread(buf + len, 1, cap - len, f);
            if (len < cap)
                break;
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
        fclose(f);
        /* An exact-size copy, so ASan sees any read past the input. */
        unsigned char *exact = malloc(len ? len : 1);
        if (!exact)
            return 2;
        for (size_t k = 0; k < len; k++)
            exact[k] = buf[k];
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}
