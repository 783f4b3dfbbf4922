/*
 * testutil: what every unit test shares: cmocka, and a fresh temporary folder per test.
 *
 * Each test binary runs in its own temporary working directory (scripts/run-unit-tests.sh);
 * sl_test_tmpdir() gives each test a new sub-folder inside it so tests never see each other's
 * files.
 */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes a new empty folder under the working directory and returns its path (static buffer
 * per call site is not kept: the caller copies it when needed). */
static inline const char *sl_test_tmpdir(char buf[256])
{
    static int counter;
    snprintf(buf, 256, "./t%d-XXXXXX", ++counter);
    if (!mkdtemp(buf))
        fail_msg("mkdtemp failed");
    return buf;
}

#endif
