/*
 * The records layout shared by the stores: key heads and numbers (store/record_key.h), values
 * under column lists (store/record_data.h), and the SQLite migration that moves records stored
 * by schema 5 into schema 6 without losing or reordering any.
 */
#include "testutil.h"

#include "store/record_data.h"
#include "store/record_key.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static void check_split(const char *key, size_t want_head, int64_t want_num)
{
    int64_t num = -1;
    size_t head = sl_record_key_split(key, strlen(key), &num);
    if (head != want_head || num != want_num)
        fail_msg("'%s': head %zu num %lld, expected %zu and %lld", key, head, (long long)num,
                 want_head, (long long)want_num);
    char *back = sl_record_key_join(key, head, num);
    assert_non_null(back);
    if (strcmp(back, key) != 0) /* the split is one to one */
        fail_msg("'%s' joins back as '%s'", key, back);
    free(back);
}

static void test_key_split(void **state)
{
    (void)state;
    check_split("0193a1b2-0000-7000-8000-000000000001:17", 37, 17);
    check_split("a:1", 2, 1);
    check_split("a:b:20", 4, 20);
    check_split("a:999999999999999999", 2, 999999999999999999LL); /* 18 digits */
    check_split("a:1000000000000000000", 21, 0);                  /* 19: text */
    check_split("a:07", 4, 0);                                    /* a leading zero: text */
    check_split("a:0", 3, 0);
    check_split("a:", 2, 0);
    check_split(":5", 1, 5);
    check_split("12", 2, 0);
    check_split("a-12", 4, 0);
    check_split("a:12x", 5, 0);
    check_split("", 0, 0);
}

/* Expands data under cols; checks the object text, or the error when want is NULL. */
static void check_expand(const char *cols_json, const char *data, const char *want)
{
    struct sl_record_cols *cols = NULL;
    if (cols_json)
        assert_int_equal(sl_record_cols_new(cols_json, &cols), 0);
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    int rc = sl_record_data_expand(cols, data, &b);
    if (want && (rc != 0 || strcmp(b.data, want) != 0))
        fail_msg("'%s': rc %d '%s', expected '%s'", data, rc, b.data ? b.data : "", want);
    if (!want && rc != SL_EINVALID)
        fail_msg("'%s': rc %d '%s', expected SL_EINVALID", data, rc, b.data ? b.data : "");
    sl_buf_fini(&b);
    sl_record_cols_free(cols);
}

static void test_values_under_columns(void **state)
{
    (void)state;
    const char *cols = "[\"a\",\"b \\\"q\\\"\",\"c\"]";
    check_expand(cols, "[1,\"x\",null]", "{\"a\":1,\"b \\\"q\\\"\":\"x\",\"c\":null}");
    check_expand(cols, "[\"],[,\"]", "{\"a\":\"],[,\"}");
    check_expand(cols, "[{\"k\":[1,\"}\"]},[[]],\"\\\\\"]",
                 "{\"a\":{\"k\":[1,\"}\"]},\"b \\\"q\\\"\":[[]],\"c\":\"\\\\\"}");
    check_expand(cols, "[ true , -1.5e3 ]", "{\"a\":true,\"b \\\"q\\\"\":-1.5e3}");
    check_expand(cols, "[]", "{}");
    check_expand(NULL, "{\"as\":\"is\"}", "{\"as\":\"is\"}");
    /* refused: more values than names, no names, broken arrays */
    check_expand(cols, "[1,2,3,4]", NULL);
    check_expand(NULL, "[1]", NULL);
    check_expand(cols, "[1,2", NULL);
    check_expand(cols, "[\"open]", NULL);
    check_expand(cols, "[1 2]", NULL);
    check_expand(cols, "[,1]", NULL);
    check_expand(cols, "x", NULL);
    struct sl_record_cols *c = NULL;
    assert_int_equal(sl_record_cols_new("[\"a\",1]", &c), SL_EINVALID);
    assert_null(c);
    assert_int_equal(sl_record_cols_new("{\"a\":1}", &c), SL_EINVALID);
}

/* Records written under schema 5 read back the same after the upgrade: keys, data, jobs and
 * times, per (tenant, type), in the new order. */
static void test_upgrade_keeps_records(void **state)
{
    (void)state;
    char url[600];
    sqlite3 *db = sl_test_old_sqlite(sl_sqlite_migrations, 5, url);
    sl_test_sql_ok(db, "INSERT INTO records VALUES"
                       " ('acme', 'csv', 'J1:10', '{\"r\":10}', 'J1', 1, 2),"
                       " ('acme', 'csv', 'J1:9', '{\"r\":9}', 'J1', 3, 4),"
                       " ('acme', 'csv', 'K', '{\"k\":1}', 'J2', 5, 6),"
                       " ('acme', 'csv', 'J1:', '{}', 'J2', 7, 8),"
                       " ('acme', 'other', 'J1:9', '{\"o\":1}', 'J2', 9, 10),"
                       " ('beta', 'csv', 'J1:9', '{\"b\":1}', 'J1', 11, 12)");
    sqlite3_close(db);

    struct sl_store *s;
    struct sl_error err = {0};
    check_rc(sl_store_open(url, &s, &err), 0, &err);
    struct sl_record *recs = NULL;
    size_t n = 0;
    int more = 0;
    check_rc(sl_store_list_records(s, "acme", "csv", NULL, 10, &recs, &n, &more, &err), 0, &err);
    const char *keys[4] = {"J1:", "J1:9", "J1:10", "K"};
    const char *data[4] = {"{}", "{\"r\":9}", "{\"r\":10}", "{\"k\":1}"};
    const char *jobs[4] = {"J2", "J1", "J1", "J2"};
    const int64_t created[4] = {7, 3, 1, 5};
    check_i64((int64_t)n, 4);
    for (size_t i = 0; i < n; i++) {
        check_str(recs[i].key, keys[i]);
        check_str(recs[i].data, data[i]);
        check_str(recs[i].job_id, jobs[i]);
        check_i64(recs[i].created_at, created[i]);
        check_i64(recs[i].updated_at, created[i] + 1);
    }
    sl_records_free(recs, n);
    struct sl_record r;
    check_rc(sl_store_get_record(s, "acme", "other", "J1:9", &r, &err), 0, &err);
    check_str(r.data, "{\"o\":1}");
    sl_record_fini(&r);
    check_rc(sl_store_get_record(s, "beta", "csv", "J1:9", &r, &err), 0, &err);
    check_str(r.data, "{\"b\":1}");
    check_str(r.job_id, "J1");
    sl_record_fini(&r);
    sl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_split),
        cmocka_unit_test(test_values_under_columns),
        cmocka_unit_test(test_upgrade_keeps_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
