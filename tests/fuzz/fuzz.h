/* fuzz.h - helpers shared by the libFuzzer harnesses (header only). */
#ifndef FAILOVERD_FUZZ_H
#define FAILOVERD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's own check failed: report and crash, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* data as a NUL-terminated string (caller frees); NUL bytes inside end it. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits s in place at the first occurrence of sep; returns the rest ("" if none). */
static inline char *fuzz_split(char *s, char sep)
{
    char *p = strchr(s, sep);
    if (!p)
        return s + strlen(s);
    *p = '\0';
    return p + 1;
}

#endif
