/*
 * test_crontab: the cron table read from `vercel.json` (src/core/crontab.h).
 *
 * sl_crontab_load on files in a fresh folder (missing file, several entries, errors naming the
 * file) and sl_crontab_parse on text: the seed's default when there is no file or no "crons"
 * key, an explicit empty list, several entries, and every error naming the file, the entry index
 * and the field at fault.
 */
#include "testutil.h"

#include "core/cron.h"
#include "core/crontab.h"
#include "util/err.h"

#include <limits.h>

#define check_contains(got, part)                                                                  \
    do {                                                                                           \
        const char *got_ = (got), *part_ = (part);                                                 \
        if (!got_ || !strstr(got_, part_))                                                         \
            fail_msg("%s is '%s', expected it to contain '%s'", #got, got_ ? got_ : "(NULL)",      \
                     part_);                                                                       \
    } while (0)

/* 2026-01-01T00:00:00.000Z, a Thursday. */
#define T_2026 1767225600000LL
#define MIN_MS 60000LL

/* Checks that tab holds the seed's default entry. */
static void check_default(const struct sl_crontab *tab)
{
    int64_t next = 0;
    check_i64(tab->count, 1);
    assert_non_null(tab->entries);
    check_str(tab->entries[0].path, "/api/cron/process-integration-jobs");
    check_str(tab->entries[0].schedule, "*/2 * * * *");
    /* The parsed schedule is every even minute. */
    assert_int_equal(sl_cron_next(&tab->entries[0].cron, T_2026, &next), 0);
    check_i64(next, T_2026 + 2 * MIN_MS);
    assert_int_equal(sl_cron_next(&tab->entries[0].cron, T_2026 + 3 * MIN_MS, &next), 0);
    check_i64(next, T_2026 + 4 * MIN_MS);
}

/* Parses text named "vercel.json", expects an SL_ECONFIG error, and returns its message in msg
 * (the table must come back empty). */
static void parse_fails(const char *text, char msg[SL_ERROR_MSG_MAX])
{
    struct sl_crontab tab;
    struct sl_error err = {0};
    memset(&tab, 0xab, sizeof tab);
    int rc = sl_crontab_parse(text, "vercel.json", &tab, &err);
    if (rc != SL_ECONFIG)
        fail_msg("parsing '%s' returned %d (%s), expected invalid_config", text, rc,
                 sl_err_code(rc));
    if (tab.count != 0 || tab.entries != NULL)
        fail_msg("after a failed parse of '%s' the table holds %zu entries", text, tab.count);
    check_contains(err.msg, "vercel.json");
    memcpy(msg, err.msg, SL_ERROR_MSG_MAX);
}

/* ---------------------------------------------------------------------------------------------
 * The default
 */

static void test_load_missing_file_gives_default(void **state)
{
    (void)state;
    char dir[256], path[PATH_MAX];
    struct sl_crontab tab;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/vercel.json", dir);
    check_rc(sl_crontab_load(path, &tab, &err), 0, &err);
    check_default(&tab);
    sl_crontab_fini(&tab);
    check_i64(tab.count, 0);
    assert_null(tab.entries);
}

static void test_parse_without_crons_key_gives_default(void **state)
{
    (void)state;
    struct sl_crontab tab;
    struct sl_error err = {0};
    check_rc(sl_crontab_parse("{\"rewrites\": [], \"cleanUrls\": true}", "vercel.json", &tab, &err),
             0, &err);
    check_default(&tab);
    sl_crontab_fini(&tab);

    check_rc(sl_crontab_parse("{}", "vercel.json", &tab, &err), 0, &err);
    check_default(&tab);
    sl_crontab_fini(&tab);
}

static void test_parse_empty_crons_means_no_cron(void **state)
{
    (void)state;
    struct sl_crontab tab;
    struct sl_error err = {0};
    memset(&tab, 0xab, sizeof tab);
    check_rc(sl_crontab_parse("{\"crons\": []}", "vercel.json", &tab, &err), 0, &err);
    check_i64(tab.count, 0);
    sl_crontab_fini(&tab);
}

/* ---------------------------------------------------------------------------------------------
 * Several entries
 */

static void test_parse_several_entries(void **state)
{
    (void)state;
    struct sl_crontab tab;
    struct sl_error err = {0};
    int64_t next = 0;
    const char *text = "{\"crons\": ["
                       "{\"path\": \"/api/cron/process-integration-jobs\", \"schedule\": \"*/5 * "
                       "* * *\"},"
                       "{\"path\": \"/api/cron/cleanup?days=7\", \"schedule\": \"0 3 * * sun\"},"
                       "{\"path\": \"/api/tick\", \"schedule\": \"*/1 * * * * *\"},"
                       "{\"path\": \"/api/daily\", \"schedule\": \"@daily\"}"
                       "]}";
    check_rc(sl_crontab_parse(text, "vercel.json", &tab, &err), 0, &err);
    check_i64(tab.count, 4);
    check_str(tab.entries[0].path, "/api/cron/process-integration-jobs");
    check_str(tab.entries[0].schedule, "*/5 * * * *");
    check_str(tab.entries[1].path, "/api/cron/cleanup?days=7");
    check_str(tab.entries[1].schedule, "0 3 * * sun");
    check_str(tab.entries[2].path, "/api/tick");
    check_str(tab.entries[2].schedule, "*/1 * * * * *");
    check_str(tab.entries[3].path, "/api/daily");
    check_str(tab.entries[3].schedule, "@daily");

    /* Each entry carries its own parsed schedule. */
    assert_int_equal(sl_cron_next(&tab.entries[0].cron, T_2026, &next), 0);
    check_i64(next, T_2026 + 5 * MIN_MS);
    /* 2026-01-01 is a Thursday: the next Sunday 03:00 is 2026-01-04T03:00Z. */
    assert_int_equal(sl_cron_next(&tab.entries[1].cron, T_2026, &next), 0);
    check_i64(next, T_2026 + 3 * 86400000LL + 3 * 3600000LL);
    assert_int_equal(sl_cron_next(&tab.entries[2].cron, T_2026, &next), 0);
    check_i64(next, T_2026 + 1000);
    assert_int_equal(sl_cron_next(&tab.entries[3].cron, T_2026, &next), 0);
    check_i64(next, T_2026 + 86400000LL);
    sl_crontab_fini(&tab);
    check_i64(tab.count, 0);
    assert_null(tab.entries);
}

static void test_load_file_with_entries(void **state)
{
    (void)state;
    char dir[256], path[PATH_MAX];
    struct sl_crontab tab;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/vercel.json", dir);
    sl_test_write_text(path, "{\n  \"crons\": [\n"
                             "    {\"path\": \"/a\", \"schedule\": \"0 * * * *\"},\n"
                             "    {\"path\": \"/b\", \"schedule\": \"30 12 1 jan *\"}\n"
                             "  ],\n  \"framework\": \"nextjs\"\n}\n");
    check_rc(sl_crontab_load(path, &tab, &err), 0, &err);
    check_i64(tab.count, 2);
    check_str(tab.entries[0].path, "/a");
    check_str(tab.entries[0].schedule, "0 * * * *");
    check_str(tab.entries[1].path, "/b");
    check_str(tab.entries[1].schedule, "30 12 1 jan *");
    sl_crontab_fini(&tab);

    /* An explicit empty list in a file: no cron at all. */
    sl_test_write_text(path, "{\"crons\": []}");
    check_rc(sl_crontab_load(path, &tab, &err), 0, &err);
    check_i64(tab.count, 0);
    sl_crontab_fini(&tab);
}

static void test_parse_at_most_64_entries(void **state)
{
    (void)state;
    struct sl_crontab tab;
    struct sl_error err = {0};
    char msg[SL_ERROR_MSG_MAX];
    static char text[16384];
    size_t off = 0;
    off += (size_t)snprintf(text + off, sizeof text - off, "{\"crons\": [");
    for (int i = 0; i < SL_CRONTAB_MAX; i++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "%s{\"path\": \"/p%d\", \"schedule\": \"%d * * * *\"}",
                                i ? "," : "", i, i % 60);
    snprintf(text + off, sizeof text - off, "]}");
    check_rc(sl_crontab_parse(text, "vercel.json", &tab, &err), 0, &err);
    check_i64(tab.count, SL_CRONTAB_MAX);
    check_str(tab.entries[SL_CRONTAB_MAX - 1].path, "/p63");
    sl_crontab_fini(&tab);

    /* One more (written over the closing "]}") is refused. */
    snprintf(text + off, sizeof text - off,
             ",{\"path\": \"/extra\", \"schedule\": \"* * * * *\"}]}");
    parse_fails(text, msg);
    check_contains(msg, "crons");
}

/* ---------------------------------------------------------------------------------------------
 * Errors: each names the file, the entry and the field
 */

static void test_error_invalid_json_names_line_and_column(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("{\n  \"crons\": [\n    {\"path\": \"/a\",, }\n  ]\n}", msg);
    check_contains(msg, "line 3");
    check_contains(msg, "column");

    parse_fails("", msg);
    check_contains(msg, "line");
}

static void test_error_load_names_the_file(void **state)
{
    (void)state;
    char dir[256], path[PATH_MAX];
    struct sl_crontab tab;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/vercel.json", dir);
    sl_test_write_text(path, "{\"crons\": [{\"path\": \"/a\", \"schedule\": \"0 0 * *\"}");
    check_rc(sl_crontab_load(path, &tab, &err), SL_ECONFIG, &err);
    check_contains(err.msg, path);
    check_contains(err.msg, "line");
    check_i64(tab.count, 0);

    sl_test_write_text(path, "{\"crons\": [{\"path\": \"/a\", \"schedule\": \"0 25 * * *\"}]}");
    check_rc(sl_crontab_load(path, &tab, &err), SL_ECONFIG, &err);
    check_contains(err.msg, path);
    check_contains(err.msg, "crons[0].schedule");
    check_contains(err.msg, "hour field");
    check_contains(err.msg, "25");
    check_i64(tab.count, 0);
}

static void test_error_top_level_not_object(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("[{\"path\": \"/a\", \"schedule\": \"* * * * *\"}]", msg);
    check_contains(msg, "top level");
    parse_fails("[]", msg);
    check_contains(msg, "top level");
}

static void test_error_crons_not_array(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("{\"crons\": {\"path\": \"/a\", \"schedule\": \"* * * * *\"}}", msg);
    check_contains(msg, "crons");
    check_contains(msg, "array");
    parse_fails("{\"crons\": null}", msg);
    check_contains(msg, "array");
}

static void test_error_entry_not_object(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"* * * * *\"}, \"/b\"]}", msg);
    check_contains(msg, "crons[1]");
    check_contains(msg, "object");
}

static void test_error_path(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    /* Missing. */
    parse_fails("{\"crons\": [{\"schedule\": \"* * * * *\"}]}", msg);
    check_contains(msg, "crons[0].path");
    /* Without the leading '/'. */
    parse_fails("{\"crons\": [{\"path\": \"/ok\", \"schedule\": \"* * * * *\"},"
                " {\"path\": \"api/cron\", \"schedule\": \"* * * * *\"}]}",
                msg);
    check_contains(msg, "crons[1].path");
    check_contains(msg, "'/'");
    /* Not a string. */
    parse_fails("{\"crons\": [{\"path\": 7, \"schedule\": \"* * * * *\"}]}", msg);
    check_contains(msg, "crons[0].path");
    /* Empty, and with a space. */
    parse_fails("{\"crons\": [{\"path\": \"\", \"schedule\": \"* * * * *\"}]}", msg);
    check_contains(msg, "crons[0].path");
    parse_fails("{\"crons\": [{\"path\": \"/a b\", \"schedule\": \"* * * * *\"}]}", msg);
    check_contains(msg, "crons[0].path");
}

static void test_error_path_too_long(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    static char text[1024];
    char path[SL_CRON_PATH_MAX + 1];
    path[0] = '/';
    memset(path + 1, 'a', SL_CRON_PATH_MAX - 1);
    path[SL_CRON_PATH_MAX] = '\0'; /* SL_CRON_PATH_MAX characters: one too many */
    snprintf(text, sizeof text, "{\"crons\": [{\"path\": \"%s\", \"schedule\": \"* * * * *\"}]}",
             path);
    parse_fails(text, msg);
    check_contains(msg, "crons[0].path");
}

static void test_error_missing_schedule(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("{\"crons\": [{\"path\": \"/a\"}]}", msg);
    check_contains(msg, "crons[0].schedule");
    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": 5}]}", msg);
    check_contains(msg, "crons[0].schedule");
}

static void test_error_bad_schedule(void **state)
{
    (void)state;
    char msg[SL_ERROR_MSG_MAX];
    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"*/2 * * * *\"},"
                " {\"path\": \"/b\", \"schedule\": \"61 * * * *\"}]}",
                msg);
    check_contains(msg, "crons[1].schedule");
    check_contains(msg, "minute field");
    check_contains(msg, "61");

    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"0 0 32 * *\"}]}", msg);
    check_contains(msg, "crons[0].schedule");
    check_contains(msg, "day-of-month field");

    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"0 0 * foo *\"}]}", msg);
    check_contains(msg, "crons[0].schedule");
    check_contains(msg, "month field");
    check_contains(msg, "foo");

    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"every minute\"}]}", msg);
    check_contains(msg, "crons[0].schedule");

    parse_fails("{\"crons\": [{\"path\": \"/a\", \"schedule\": \"\"}]}", msg);
    check_contains(msg, "crons[0].schedule");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_missing_file_gives_default),
        cmocka_unit_test(test_parse_without_crons_key_gives_default),
        cmocka_unit_test(test_parse_empty_crons_means_no_cron),
        cmocka_unit_test(test_parse_several_entries),
        cmocka_unit_test(test_load_file_with_entries),
        cmocka_unit_test(test_parse_at_most_64_entries),
        cmocka_unit_test(test_error_invalid_json_names_line_and_column),
        cmocka_unit_test(test_error_load_names_the_file),
        cmocka_unit_test(test_error_top_level_not_object),
        cmocka_unit_test(test_error_crons_not_array),
        cmocka_unit_test(test_error_entry_not_object),
        cmocka_unit_test(test_error_path),
        cmocka_unit_test(test_error_path_too_long),
        cmocka_unit_test(test_error_missing_schedule),
        cmocka_unit_test(test_error_bad_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
