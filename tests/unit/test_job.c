/*
 * test_job: the job record's names, types and JSON form (src/core/job.h).
 */
#include "testutil.h"

#include "core/job.h"
#include "util/err.h"

#define SHA_HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void check_type(const char *file_name, const char *want)
{
    const char *got = sl_job_type_for_name(file_name);
    if (!got || strcmp(got, want) != 0)
        fail_msg("type of '%s' is '%s', expected '%s'", file_name, got ? got : "(null)", want);
}

static void test_type_from_file_name(void **state)
{
    (void)state;
    check_type("orders.csv", "csv");
    check_type("orders.tsv", "csv");
    check_type("book.xlsx", "sheet");
    check_type("book.xls", "sheet");
    check_type("data.json", "json");
    check_type("events.ndjson", "ndjson");
    check_type("events.jsonl", "ndjson");
    /* case-insensitive extensions */
    check_type("ORDERS.CSV", "csv");
    check_type("Orders.Tsv", "csv");
    check_type("Book.XLSX", "sheet");
    check_type("Book.xLs", "sheet");
    check_type("DATA.JSON", "json");
    check_type("E.NDJSON", "ndjson");
    check_type("E.JsonL", "ndjson");
    /* the last extension decides */
    check_type("archive.tar.gz", "file");
    check_type("orders.csv.gz", "file");
    check_type("backup.json.csv", "csv");
    check_type("my.orders.2026.csv", "csv");
    /* anything else is a plain file */
    check_type("README", "file");
    check_type("report.pdf", "file");
    check_type("photo.jpeg", "file");
    check_type("data.jsonx", "file");
    check_type("data.cs", "file");
    check_type("csv", "file");
    check_type("", "file");
}

static void test_status_names(void **state)
{
    (void)state;
    const char *names[SL_JOB_STATUS_COUNT] = {"pending", "processing", "completed", "failed"};
    const enum sl_job_status values[SL_JOB_STATUS_COUNT] = {SL_JOB_PENDING, SL_JOB_PROCESSING,
                                                            SL_JOB_COMPLETED, SL_JOB_FAILED};
    for (int i = 0; i < SL_JOB_STATUS_COUNT; i++) {
        assert_string_equal(sl_job_status_name(values[i]), names[i]);
        enum sl_job_status got = SL_JOB_STATUS_COUNT;
        assert_int_equal(sl_job_status_parse(names[i], &got), 0);
        assert_int_equal(got, values[i]);
    }
    const char *bad[] = {"", "bogus", "pend", "pendingx", "retrying", "cancelled"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum sl_job_status got = SL_JOB_STATUS_COUNT;
        int rc = sl_job_status_parse(bad[i], &got);
        if (rc != SL_EINVALID)
            fail_msg("parsing status '%s' returned %d, expected SL_EINVALID", bad[i], rc);
    }
}

static void test_name_valid(void **state)
{
    (void)state;
    assert_int_equal(sl_job_name_valid("default", SL_TENANT_MAX), 1);
    assert_int_equal(sl_job_name_valid("acme-corp_2.eu", SL_TENANT_MAX), 1);
    assert_int_equal(sl_job_name_valid("A", SL_TENANT_MAX), 1);
    assert_int_equal(sl_job_name_valid("ZZ_09.-az", SL_TYPE_MAX), 1);

    const char *bad[] = {"",    "a b", "a/b",  "../etc", "a\nb", "tenant!", "é",    "a,b",
                         "a;b", "a'b", "a\"b", "a\\b",   "a:b",  "a*",      "a%20", "\t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sl_job_name_valid(bad[i], SL_TENANT_MAX) != 0)
            fail_msg("'%s' accepted as a name", bad[i]);

    /* exactly max bytes is valid, one more is not */
    char name[SL_TYPE_MAX + 2];
    memset(name, 'x', sizeof name);
    name[SL_TYPE_MAX] = '\0';
    assert_int_equal(sl_job_name_valid(name, SL_TYPE_MAX), 1);
    name[SL_TYPE_MAX] = 'x';
    name[SL_TYPE_MAX + 1] = '\0';
    assert_int_equal(sl_job_name_valid(name, SL_TYPE_MAX), 0);
    assert_int_equal(sl_job_name_valid("abcd", 3), 0);
    assert_int_equal(sl_job_name_valid("abc", 3), 1);
}

/* A job with every field set, its strings on the heap as the struct expects. */
static void fill_job(struct sl_job *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", "01a22b64-b993-7abc-8def-0123456789ab");
    snprintf(j->upload_id, sizeof j->upload_id, "%s", "01a22b64-b993-7abd-9def-0123456789ab");
    sl_test_job_strings(j, "acme", "csv", "orders \"2026\".csv", "text/csv");
    snprintf(j->blob_key, sizeof j->blob_key, "%s", "blobs/01a22b64");
    j->size = 5000000000LL; /* over 32 bits */
    snprintf(j->sha256, sizeof j->sha256, "%s", SHA_HEX);
    j->status = SL_JOB_COMPLETED;
    j->attempts = 2;
    j->max_attempts = 3;
    j->created_at = 1796024351123LL; /* 2026-11-30T07:39:11.123Z */
    j->started_at = 1796024352000LL;
    j->completed_at = 1796024352500LL;
    j->next_attempt_at = 1709210096789LL; /* 2024-02-29T12:34:56.789Z */
    j->processing_ms = 500;
    j->fence = 7;
    j->error = strdup("row 3: bad date");
    j->result = strdup("{\"format\":\"csv\",\"totalRows\":3,\"columns\":[\"a\",\"b\"]}");
    assert_non_null(j->error);
    assert_non_null(j->result);
}

static void check_json_str(json_t *o, const char *key, const char *want)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        fail_msg("\"%s\" is missing", key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    if (strcmp(json_string_value(v), want) != 0)
        fail_msg("\"%s\" is '%s', expected '%s'", key, json_string_value(v), want);
}

static void check_json_int(json_t *o, const char *key, long long want)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        fail_msg("\"%s\" is missing", key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    if (json_integer_value(v) != want)
        fail_msg("\"%s\" is %lld, expected %lld", key, (long long)json_integer_value(v), want);
}

static void check_json_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        fail_msg("\"%s\" is missing (expected null)", key);
    if (!json_is_null(v))
        fail_msg("\"%s\" is not null", key);
}

static void test_to_json_fields(void **state)
{
    (void)state;
    struct sl_job j;
    fill_job(&j);
    json_t *o = sl_job_to_json(&j);
    assert_non_null(o);
    assert_true(json_is_object(o));
    check_json_str(o, "id", "01a22b64-b993-7abc-8def-0123456789ab");
    check_json_str(o, "uploadId", "01a22b64-b993-7abd-9def-0123456789ab");
    check_json_str(o, "tenant", "acme");
    check_json_str(o, "type", "csv");
    check_json_str(o, "status", "completed");
    check_json_str(o, "fileName", "orders \"2026\".csv");
    check_json_str(o, "contentType", "text/csv");
    check_json_int(o, "size", 5000000000LL);
    check_json_str(o, "sha256", SHA_HEX);
    check_json_int(o, "attempts", 2);
    check_json_int(o, "maxAttempts", 3);
    check_json_str(o, "createdAt", "2026-11-30T07:39:11.123Z");
    check_json_str(o, "startedAt", "2026-11-30T07:39:12.000Z");
    check_json_str(o, "completedAt", "2026-11-30T07:39:12.500Z");
    check_json_str(o, "nextAttemptAt", "2024-02-29T12:34:56.789Z");
    check_json_int(o, "processingMs", 500);
    check_json_str(o, "error", "row 3: bad date");
    json_t *result = json_object_get(o, "result");
    assert_non_null(result);
    assert_true(json_is_object(result)); /* parsed JSON, not a string */
    json_t *want =
        json_loads("{\"format\":\"csv\",\"totalRows\":3,\"columns\":[\"a\",\"b\"]}", 0, NULL);
    assert_non_null(want);
    assert_true(json_equal(result, want));
    json_decref(want);
    /* the contract's Job has exactly these 18 fields; internal ones (blob key, fence) stay out */
    check_i64(json_object_size(o), 18);
    assert_null(json_object_get(o, "blobKey"));
    assert_null(json_object_get(o, "fence"));
    json_decref(o);
    sl_job_fini(&j);
}

static void test_to_json_nulls(void **state)
{
    (void)state;
    struct sl_job j;
    fill_job(&j);
    j.status = SL_JOB_PENDING;
    j.started_at = 0;
    j.completed_at = 0;
    j.next_attempt_at = 0;
    j.processing_ms = -1;
    free(j.error);
    j.error = NULL;
    free(j.result);
    j.result = NULL;
    json_t *o = sl_job_to_json(&j);
    assert_non_null(o);
    check_json_str(o, "status", "pending");
    check_json_str(o, "createdAt", "2026-11-30T07:39:11.123Z");
    check_json_null(o, "startedAt");
    check_json_null(o, "completedAt");
    check_json_null(o, "nextAttemptAt");
    check_json_null(o, "processingMs");
    check_json_null(o, "error");
    check_json_null(o, "result");
    check_i64(json_object_size(o), 18);
    json_decref(o);

    /* 0 ms is a real duration, not an absent one */
    j.processing_ms = 0;
    o = sl_job_to_json(&j);
    assert_non_null(o);
    check_json_int(o, "processingMs", 0);
    json_decref(o);
    sl_job_fini(&j);
}

static void test_to_json_result_forms(void **state)
{
    (void)state;
    struct sl_job j;
    fill_job(&j);

    /* text that is not JSON becomes null rather than a string or a failure */
    free(j.result);
    j.result = strdup("{not json");
    json_t *o = sl_job_to_json(&j);
    assert_non_null(o);
    check_json_null(o, "result");
    json_decref(o);

    free(j.result);
    j.result = strdup("");
    o = sl_job_to_json(&j);
    assert_non_null(o);
    check_json_null(o, "result");
    json_decref(o);

    /* an array is JSON too */
    free(j.result);
    j.result = strdup("[1, 2, 3]");
    o = sl_job_to_json(&j);
    assert_non_null(o);
    json_t *r = json_object_get(o, "result");
    assert_true(json_is_array(r));
    check_i64(json_array_size(r), 3);
    check_i64(json_integer_value(json_array_get(r, 2)), 3);
    json_decref(o);
    sl_job_fini(&j);
}

/* The JSON text is well-formed and keeps non-ASCII names intact. */
static void test_to_json_dumps(void **state)
{
    (void)state;
    struct sl_job j;
    fill_job(&j);
    free(j.file_name);
    j.file_name = strdup("r\xc3\xa9sum\xc3\xa9.csv");
    json_t *o = sl_job_to_json(&j);
    assert_non_null(o);
    char *text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);
    json_t *back = json_loads(text, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(o, back));
    check_json_str(back, "fileName", "r\xc3\xa9sum\xc3\xa9.csv");
    json_decref(back);
    free(text);
    json_decref(o);
    sl_job_fini(&j);
}

static void test_json_set_time(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_non_null(o);
    assert_int_equal(sl_json_set_time(o, "a", 0), 0);
    assert_int_equal(sl_json_set_time(o, "b", 1796024351123LL), 0);
    assert_int_equal(sl_json_set_time(o, "c", -1), 0);
    check_json_null(o, "a");
    check_json_str(o, "b", "2026-11-30T07:39:11.123Z");
    check_json_str(o, "c", "1969-12-31T23:59:59.999Z");
    json_decref(o);
}

static void test_fini_and_free(void **state)
{
    (void)state;
    struct sl_job j;
    fill_job(&j);
    sl_job_fini(&j); /* ASan's leak check verifies every string went */

    struct sl_job *jobs = calloc(3, sizeof *jobs);
    assert_non_null(jobs);
    for (int i = 0; i < 3; i++)
        fill_job(&jobs[i]);
    sl_jobs_free(jobs, 3);
    sl_jobs_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_from_file_name), cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_name_valid),          cmocka_unit_test(test_to_json_fields),
        cmocka_unit_test(test_to_json_nulls),       cmocka_unit_test(test_to_json_result_forms),
        cmocka_unit_test(test_to_json_dumps),       cmocka_unit_test(test_json_set_time),
        cmocka_unit_test(test_fini_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
