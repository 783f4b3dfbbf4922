/*
 * test_uuid: UUIDv7 text, its order within and across milliseconds, and sl_uuid_valid
 * (src/util/uuid.h).
 *
 * The generator keeps process-wide state (the last ms and a counter), so every test uses its own
 * time base, later than the previous test's, to know which millisecond an id carries.
 */
#include "testutil.h"

#include "util/err.h"
#include "util/uuid.h"

#define BASE_MS   1796024351123LL /* 2026-11-30T07:39:11.123Z */
#define N_SAME_MS 10000

/* The 48-bit timestamp in the first 12 hex digits of id. */
static int64_t uuid_ms(const char *id)
{
    char hex[13];
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = '\0';
    return strtoll(hex, NULL, 16);
}

static void check_shape(const char *id)
{
    if (strlen(id) != SL_UUID_LEN)
        fail_msg("'%s' has %zu characters, expected %d", id, strlen(id), SL_UUID_LEN);
    for (int i = 0; i < SL_UUID_LEN; i++) {
        char c = id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                fail_msg("'%s': expected '-' at %d", id, i);
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            fail_msg("'%s': '%c' at %d is not lowercase hex", id, c, i);
        }
    }
    if (id[14] != '7')
        fail_msg("'%s': version nibble is '%c', expected '7'", id, id[14]);
    if (!strchr("89ab", id[19]))
        fail_msg("'%s': variant nibble '%c' is not 10xx", id, id[19]);
    assert_int_equal(sl_uuid_valid(id), 1);
}

static void test_format(void **state)
{
    (void)state;
    char id[SL_UUID_MAX];
    memset(id, 'Z', sizeof id);
    assert_int_equal(sl_uuid7(BASE_MS, id), 0);
    check_shape(id);
    assert_int_equal(id[SL_UUID_LEN], '\0');
    /* 2026-11-30T07:39:11.123Z is 0x01a22b64b993 ms */
    if (uuid_ms(id) != BASE_MS)
        fail_msg("'%s' carries ms %lld, expected %lld", id, (long long)uuid_ms(id), BASE_MS);
    assert_memory_equal(id, "01a22b64-b993-7", 15);
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_same_ms_strictly_increasing(void **state)
{
    (void)state;
    const int64_t ms = BASE_MS + 1000;
    char(*ids)[SL_UUID_MAX] = calloc(N_SAME_MS, SL_UUID_MAX);
    assert_non_null(ids);
    for (int i = 0; i < N_SAME_MS; i++) {
        int rc = sl_uuid7(ms, ids[i]);
        if (rc != 0)
            fail_msg("sl_uuid7 #%d returned %d", i, rc);
        check_shape(ids[i]);
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("id #%d '%s' does not sort after '%s'", i, ids[i], ids[i - 1]);
    }
    /* The first id of a new millisecond carries it; later ones never go back in time. */
    assert_true(uuid_ms(ids[0]) == ms);
    assert_true(uuid_ms(ids[N_SAME_MS - 1]) >= ms);
    assert_true(uuid_ms(ids[N_SAME_MS - 1]) < ms + 100);
    /* Strictly increasing already implies unique; check the sorted copy for duplicates too. */
    qsort(ids, N_SAME_MS, SL_UUID_MAX, cmp_text);
    for (int i = 1; i < N_SAME_MS; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate id '%s'", ids[i]);
    free(ids);
}

static void test_increasing_ms_sort_by_time(void **state)
{
    (void)state;
    const int64_t base = BASE_MS + 100000;
    const int64_t offsets[] = {0, 1, 2, 5, 1000, 60000, 86400000LL, 86400000LL * 400};
    const size_t n = sizeof offsets / sizeof offsets[0];
    char prev[SL_UUID_MAX] = "";
    for (size_t i = 0; i < n; i++) {
        char id[SL_UUID_MAX];
        assert_int_equal(sl_uuid7(base + offsets[i], id), 0);
        check_shape(id);
        if (uuid_ms(id) != base + offsets[i])
            fail_msg("'%s' carries ms %lld, expected %lld", id, (long long)uuid_ms(id),
                     (long long)(base + offsets[i]));
        if (i > 0 && strcmp(prev, id) >= 0)
            fail_msg("'%s' (later ms) does not sort after '%s'", id, prev);
        memcpy(prev, id, SL_UUID_MAX);
    }
}

/* The 62 random bits differ between ids, so two nodes do not make the same id. */
static void test_random_tail(void **state)
{
    (void)state;
    const int64_t base = BASE_MS + 86400000LL * 1000;
    char tails[8][18];
    for (int i = 0; i < 8; i++) {
        char id[SL_UUID_MAX];
        assert_int_equal(sl_uuid7(base + i * 10, id), 0);
        memcpy(tails[i], id + 19, 17); /* "xxxx-xxxxxxxxxxxx" */
        tails[i][17] = '\0';
    }
    int distinct = 0;
    for (int i = 1; i < 8; i++)
        distinct += strcmp(tails[i], tails[0]) != 0;
    assert_int_equal(distinct, 7);
}

static void test_valid_rejects_bad_text(void **state)
{
    (void)state;
    assert_int_equal(sl_uuid_valid("01a2d3b6-b6d3-7abc-8def-0123456789ab"), 1);
    assert_int_equal(sl_uuid_valid("00000000-0000-0000-0000-000000000000"), 1);
    assert_int_equal(sl_uuid_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479"), 1); /* a v4 */

    const char *bad[] = {
        "",
        "not-a-uuid",
        "01A2D3B6-B6D3-7ABC-8DEF-0123456789AB",  /* uppercase */
        "01a2d3b6-b6d3-7abc-8def-0123456789aB",  /* one uppercase digit */
        "01a2d3b6-b6d3-7abc-8def-0123456789a",   /* 35 characters */
        "01a2d3b6-b6d3-7abc-8def-0123456789abc", /* 37 characters */
        "01a2d3b6b6d37abc8def0123456789ab",      /* no hyphens */
        "01a2d3b6-b6d37-abc-8def-0123456789ab",  /* hyphen misplaced */
        "01a2d3b6_b6d3_7abc_8def_0123456789ab",
        "01a2d3b6-b6d3-7abc-8def-0123456789ag", /* not hex */
        "{1a2d3b6-b6d3-7abc-8def-0123456789a}",
        " 1a2d3b6-b6d3-7abc-8def-0123456789ab",
        "01a2d3b6-b6d3-7abc-8def-0123456789a\n",
        "01a2d3b6-b6d3-7abc-8def-01234567-9ab",
        "../../../../../../../../etc/passwd00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sl_uuid_valid(bad[i]) != 0)
            fail_msg("sl_uuid_valid accepted '%s'", bad[i]);
}

/* An id made at a time in microseconds gives that time back to a quarter of a microsecond, and
 * ids made within one millisecond sort by their fraction of it. */
static void test_sub_ms_time_round_trip(void **state)
{
    (void)state;
    const int64_t base_us = (BASE_MS + 86400000LL * 3650) * 1000; /* after every other test */
    const int64_t offsets[] = {0, 1, 250, 251, 999, 1000, 1500, 123456};
    char prev[SL_UUID_MAX] = "";
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        char id[SL_UUID_MAX];
        int64_t us = -1;
        assert_int_equal(sl_uuid7_us(base_us + offsets[i], id), 0);
        check_shape(id);
        assert_int_equal(sl_uuid7_time_us(id, &us), 1);
        check_range(us, base_us + offsets[i] - 1, base_us + offsets[i]);
        if (strcmp(prev, id) >= 0)
            fail_msg("'%s' does not sort after '%s'", id, prev);
        memcpy(prev, id, sizeof prev);
    }
    int64_t us = 42;
    assert_int_equal(sl_uuid7_time_us("not-a-uuid", &us), 0);
    assert_int_equal(sl_uuid7_time_us("01a22b64-b993-4000-8000-000000000000", &us), 0); /* v4 */
    check_i64(us, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_same_ms_strictly_increasing),
        cmocka_unit_test(test_increasing_ms_sort_by_time),
        cmocka_unit_test(test_random_tail),
        cmocka_unit_test(test_valid_rejects_bad_text),
        cmocka_unit_test(test_sub_ms_time_round_trip), /* last: it moves the clock ahead */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
