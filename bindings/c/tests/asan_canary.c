/* Built with the same flags and library as the sanitized tests, and expected to FAIL: it
 * proves that the sanitizers are really linked and active. tests/capi_c.rs runs
 * `asan_canary asan` (must die reporting a heap-buffer-overflow) and `asan_canary ubsan`
 * (must die reporting a signed integer overflow). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saslmech.h"

int main(int argc, char **argv)
{
    volatile size_t one = 1;
    volatile int big = INT_MAX;
    char *p;

    if (argc != 2 || saslmech_version() == NULL)
        return 2;
    if (strcmp(argv[1], "asan") == 0) {
        p = malloc(8);
        if (p == NULL)
            return 2;
        memset(p, 'x', 8 + one); /* one byte past the end */
        printf("%c\n", p[0]); /* keeps the buffer alive for the optimizer */
        free(p);
    } else if (strcmp(argv[1], "ubsan") == 0) {
        printf("%d\n", big + (int)one);
    }
    return 0;
}
