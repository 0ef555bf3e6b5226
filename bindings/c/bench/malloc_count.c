/*
 * malloc_count.so: an LD_PRELOAD allocation counter for the comparison harness.
 *
 * It interposes the allocating entry points of the C library (malloc, calloc, realloc and the
 * aligned variants, which Rust's system allocator uses for over-aligned types), forwards each
 * to glibc's own implementation (__libc_*: no dlsym, so no bootstrap problem with calloc) and,
 * only between malloc_count_begin() and malloc_count_end(), counts the calls and the bytes
 * requested. Outside a counting window the cost is one predictable branch per call.
 *
 * free() is not interposed: it is glibc's, which is correct for every block since all of them
 * come from glibc's allocator.
 *
 * The harness is single-threaded; the counters are still updated atomically (relaxed) so that
 * a stray thread in a library cannot corrupt them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static volatile int counting;
static uint64_t calls;
static uint64_t bytes;

static inline void note(size_t size)
{
    if (__builtin_expect(counting, 0)) {
        __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&bytes, (uint64_t)size, __ATOMIC_RELAXED);
    }
}

__attribute__((visibility("default"))) void *malloc(size_t size)
{
    note(size);
    return __libc_malloc(size);
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
    note(n * size);
    return __libc_calloc(n, size);
}

__attribute__((visibility("default"))) void *realloc(void *ptr, size_t size)
{
    note(size);
    return __libc_realloc(ptr, size);
}

__attribute__((visibility("default"))) int posix_memalign(void **out, size_t alignment,
                                                          size_t size)
{
    void *p;

    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    note(size);
    p = __libc_memalign(alignment, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

__attribute__((visibility("default"))) void *aligned_alloc(size_t alignment, size_t size)
{
    note(size);
    return __libc_memalign(alignment, size);
}

__attribute__((visibility("default"))) void *memalign(size_t alignment, size_t size)
{
    note(size);
    return __libc_memalign(alignment, size);
}

/* The markers the harness calls (found with dlsym, so the harness also runs without us). */
__attribute__((visibility("default"))) void malloc_count_begin(void)
{
    __atomic_store_n(&calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&bytes, 0, __ATOMIC_RELAXED);
    counting = 1;
}

__attribute__((visibility("default"))) void malloc_count_end(uint64_t *out_calls,
                                                             uint64_t *out_bytes)
{
    counting = 0;
    *out_calls = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    *out_bytes = __atomic_load_n(&bytes, __ATOMIC_RELAXED);
}
