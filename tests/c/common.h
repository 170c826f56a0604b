/*
 * Shared helpers for the C test programs: reading files, tallying checks, comparing the
 * (pointer, length) strings the ABI returns. Each program is one translation unit.
 */
#ifndef TOLLGATE_TEST_COMMON_H
#define TOLLGATE_TEST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tollgate.h"

static int g_passed = 0;
static int g_failed = 0;

/* Records one check; prints the failure with its context. */
static inline bool check(bool ok, const char *fmt, ...) {
    if (ok) {
        g_passed++;
        return true;
    }
    g_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

/* Prints the closing line and returns the exit status: a program that checked nothing (a
 * vector file whose cases were renamed, say) fails too. */
static inline int finish(const char *program) {
    printf("%s: %d passed, %d failed\n", program, g_passed, g_failed);
    if (g_passed == 0) {
        fprintf(stderr, "FAIL: %s checked nothing\n", program);
        return 1;
    }
    return g_failed == 0 ? 0 : 1;
}

/* Reads a whole file (NUL-terminated for convenience); exits on error. */
static inline char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(buf, cap + 1);
            if (bigger == NULL) {
                free(buf);
            }
            buf = bigger;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "out of memory reading %s\n", path);
        exit(2);
    }
    buf[len] = '\0';
    if (len_out != NULL) {
        *len_out = len;
    }
    return buf;
}

/* Reads and parses a JSON file; exits on error. */
static inline cJSON *read_json(const char *path) {
    char *text = read_file(path, NULL);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (doc == NULL) {
        fprintf(stderr, "%s is not JSON\n", path);
        exit(2);
    }
    return doc;
}

/* Whether a borrowed string equals `want` (NULL equals only NULL). The length is passed by
 * address so that `str_is(getter(h, &n), &n, "x")` reads it after the getter wrote it. */
static inline bool str_is(const char *got, const size_t *got_len, const char *want) {
    if (got == NULL || want == NULL) {
        return got == NULL && want == NULL;
    }
    return *got_len == strlen(want) && memcmp(got, want, *got_len) == 0 && got[*got_len] == '\0';
}

/* "(null)" for printing a possibly-NULL string. */
static inline const char *show(const char *s) { return s == NULL ? "(null)" : s; }

/* A malloc'd copy of a C string (strdup is POSIX, not C11). */
static inline char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return memcpy(copy, s, n);
}

/* A tg_header over NUL-terminated strings. */
static inline tg_header header_of(const char *name, const char *value) {
    tg_header h = {(const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value)};
    return h;
}

/* Uint8 view of a C string, for pointer + length inputs. */
#define U8(s) ((const uint8_t *)(s))

#endif
