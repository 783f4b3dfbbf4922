/*
 * test_importer: the import processor (src/import/importer.h), run directly with sl_proc_import
 * on a real SQLite store and a real file blob store in a fresh folder per test, a hand-filled
 * job and processor context, and the contract's `machines` schema (or none).
 *
 * What it checks: the records stored (keys and data, read back from the store), the row errors
 * (in the store, and the first 100 in the summary), the summary's counters, idempotent
 * re-imports, keys without a key field, imports that span several store batches, file-level
 * faults that fail the job with a message saying where, the deadline, and progress: a job's
 * file is replaced by a FIFO that a thread feeds slowly, so that an import runs for more than
 * a second while the test watches the job's result in the store.
 */
#include "testutil.h"

#include "core/processor.h"
#include "import/importer.h"
#include "import/schema.h"
#include "store/record_key.h"
#include "util/sha256.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

static const char machines_schema[] =
    "{\"key\": \"internalCode\","
    " \"fields\": {\"internalCode\": {\"type\": \"string\"},"
    "            \"name\": {\"type\": \"string\", \"required\": true},"
    "            \"year\": {\"type\": \"integer\"},"
    "            \"kind\": {\"type\": \"string\", \"enum\": [\"preventive\", \"corrective\"]},"
    "            \"properties\": {\"type\": \"json\"}}}";

/* ---------------------------------------------------------------------------------------------
 * Fixture
 */

struct fx {
    char dir[256];
    char store_url[300];
    char blob_root[300];
    struct sl_store *s;
    struct sl_blob *b;
    struct sl_schema machines;
    struct sl_job job;
    int seq;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    json_error_t jerr;
    if (!f)
        return -1;
    sl_test_tmpdir(f->dir);
    int rc = sl_test_store_open(f->dir, f->store_url, sizeof f->store_url, &f->s, &err);
    if (rc == 0)
        rc = sl_test_blob_open(f->dir, f->blob_root, sizeof f->blob_root, &f->b, &err);
    json_t *import = json_loads(machines_schema, 0, &jerr);
    if (rc == 0 && import)
        rc = sl_schema_parse(import, "test", &f->machines, &err);
    json_decref(import);
    if (rc != 0 || !import) {
        print_error("setup failed: %d (%s)\n", rc, err.msg);
        sl_blob_close(f->b);
        sl_store_close(f->s);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_job_fini(&f->job);
    sl_schema_fini(&f->machines);
    sl_blob_close(f->b);
    sl_store_close(f->s);
    free(f);
    return 0;
}

/* Makes f->job a new job (processing, fence 1) of tenant and type for a file called file_name,
 * with data as its stored blob under "<uploadId>/<jobId>". */
static void new_job(struct fx *f, const char *tenant, const char *type, const char *file_name,
                    const void *data, size_t len)
{
    struct sl_error err = {0};
    struct sl_sha256 *h = NULL;
    char src[PATH_MAX];
    sl_job_fini(&f->job);
    memset(&f->job, 0, sizeof f->job);
    struct sl_job *j = &f->job;
    j->created_at = sl_now_ms();
    assert_int_equal(sl_uuid7(j->created_at, j->upload_id), 0);
    assert_int_equal(sl_uuid7(j->created_at, j->id), 0);
    snprintf(j->blob_key, sizeof j->blob_key, "%s/%s", j->upload_id, j->id);
    sl_test_job_strings(j, tenant, type, file_name, "application/octet-stream");
    snprintf(src, sizeof src, "%s/up-%d.tmp", f->dir, ++f->seq);
    sl_test_write_new(src, data, len);
    check_rc(sl_blob_put_file(f->b, j->blob_key, src, &err), 0, &err);
    assert_int_equal(sl_sha256_new(&h), 0);
    assert_int_equal(sl_sha256_update(h, data, len), 0);
    assert_int_equal(sl_sha256_final(h, j->sha256), 0);
    j->size = (int64_t)len;
    j->status = SL_JOB_PROCESSING;
    j->max_attempts = 3;
    j->processing_ms = -1;
    j->fence = 1;
}

static void new_job_text(struct fx *f, const char *tenant, const char *type, const char *file_name,
                         const char *text)
{
    new_job(f, tenant, type, file_name, text, strlen(text));
}

/* Runs the import of f->job with schema (NULL: as is) and the deadline deadline_ms (0: in ten
 * minutes). The result (heap) goes to *result; a failure must leave none. */
static int run_import_until(struct fx *f, const struct sl_schema *schema, int64_t deadline_ms,
                            char **result, struct sl_error *err)
{
    struct sl_proc_ctx ctx = {.job = &f->job,
                              .blob = f->b,
                              .store = f->s,
                              .arg = schema,
                              .deadline_ms = deadline_ms ? deadline_ms : sl_now_ms() + 600000};
    *result = (char *)"not set";
    sl_err_clear(err);
    int rc = sl_proc_import(&ctx, result, err);
    if (rc != 0 && *result != NULL)
        fail_msg("sl_proc_import failed (%d: %s) but left a result", rc, err->msg);
    if (rc == 0 && *result == NULL)
        fail_msg("sl_proc_import succeeded without a summary");
    return rc;
}

/* Runs the import, which must succeed, and returns its summary parsed. */
static json_t *import_ok(struct fx *f, const struct sl_schema *schema)
{
    struct sl_error err = {0};
    char *result;
    json_error_t jerr;
    check_rc(run_import_until(f, schema, 0, &result, &err), 0, &err);
    json_t *summary = json_loads(result, 0, &jerr);
    if (!summary)
        fail_msg("the summary is not JSON: %.300s (%s)", result, jerr.text);
    free(result);
    assert_true(json_is_object(summary));
    return summary;
}

/* ---------------------------------------------------------------------------------------------
 * Checks
 */

static void check_contains(const char *text, const char *part)
{
    if (!text || !strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text ? text : "(null)", part);
}

/* got must equal the JSON text want (numbers by type too: 42 is not 42.0). Consumes nothing. */
static void check_json_at(int line, json_t *got, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &jerr);
    if (!w)
        fail_msg("line %d: expected value is not JSON: %s", line, want);
    int same = got && json_equal(got, w);
    json_decref(w);
    if (!same) {
        char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
        char buf[2048];
        snprintf(buf, sizeof buf, "%s", g ? g : "(nothing)");
        free(g);
        fail_msg("line %d: got %s, expected %s", line, buf, want);
    }
}
#define check_json(got, want) check_json_at(__LINE__, got, want)

static int64_t member_int(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        fail_msg("the summary has no integer '%s'", name);
    return (int64_t)json_integer_value(v);
}

/* The summary's counters and format. */
static void check_counts_at(int line, json_t *s, const char *format, int64_t total, int64_t success,
                            int64_t error_rows, int64_t created, int64_t updated)
{
    static const char *const members[] = {"format",      "totalRows", "processedRows",
                                          "successRows", "errorRows", "created",
                                          "updated",     "columns",   "errors"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (!json_object_get(s, members[i]))
            fail_msg("line %d: the summary lacks '%s'", line, members[i]);
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (!fmt || strcmp(fmt, format) != 0)
        fail_msg("line %d: format is '%s', expected '%s'", line, fmt ? fmt : "(none)", format);
    int64_t got[] = {member_int(s, "totalRows"),   member_int(s, "processedRows"),
                     member_int(s, "successRows"), member_int(s, "errorRows"),
                     member_int(s, "created"),     member_int(s, "updated")};
    int64_t want[] = {total, total, success, error_rows, created, updated};
    static const char *const names[] = {"totalRows", "processedRows", "successRows",
                                        "errorRows", "created",       "updated"};
    for (int i = 0; i < 6; i++)
        if (got[i] != want[i])
            fail_msg("line %d: %s is %lld, expected %lld", line, names[i], (long long)got[i],
                     (long long)want[i]);
    assert_true(json_is_array(json_object_get(s, "columns")));
    assert_true(json_is_array(json_object_get(s, "errors")));
}
#define check_counts(s, fmt, total, success, errs, created, updated)                               \
    check_counts_at(__LINE__, s, fmt, total, success, errs, created, updated)

/* The data of record (tenant, type, key), parsed, or NULL when there is none. Checks the
 * record's job id against job_id when given. */
static json_t *record_data(struct fx *f, const char *tenant, const char *type, const char *key,
                           const char *job_id)
{
    struct sl_record rec;
    struct sl_error err = {0};
    int rc = sl_store_get_record(f->s, tenant, type, key, &rec, &err);
    if (rc == SL_ENOT_FOUND)
        return NULL;
    check_rc(rc, 0, &err);
    check_str(rec.key, key);
    if (job_id)
        check_str(rec.job_id, job_id);
    assert_true(rec.created_at > 0);
    assert_true(rec.updated_at >= rec.created_at);
    json_t *data = json_loads(rec.data, 0, NULL);
    sl_record_fini(&rec);
    if (!json_is_object(data))
        fail_msg("record %s/%s/%s holds no JSON object", tenant, type, key);
    return data;
}

/* Record (tenant, type, key) must exist with data equal to want. */
static void check_record_at(int line, struct fx *f, const char *tenant, const char *type,
                            const char *key, const char *want)
{
    json_t *data = record_data(f, tenant, type, key, NULL);
    if (!data)
        fail_msg("line %d: no record %s/%s/%s", line, tenant, type, key);
    check_json_at(line, data, want);
    json_decref(data);
}
#define check_record(f, tenant, type, key, want)                                                   \
    check_record_at(__LINE__, f, tenant, type, key, want)

static void check_no_record(struct fx *f, const char *tenant, const char *type, const char *key)
{
    json_t *data = record_data(f, tenant, type, key, NULL);
    if (data) {
        json_decref(data);
        fail_msg("record %s/%s/%s exists, expected none", tenant, type, key);
    }
}

/* Every record of (tenant, type) as an array of {"key", "data"} in key order, read page by page
 * (page records a page). */
static json_t *all_records(struct fx *f, const char *tenant, const char *type, int page)
{
    json_t *out = json_array();
    char after[1024] = "";
    for (int guard = 0; guard < 100000; guard++) {
        struct sl_record *recs = NULL;
        size_t n = 0;
        int more = 0;
        struct sl_error err = {0};
        check_rc(sl_store_list_records(f->s, tenant, type, after[0] ? after : NULL, page, &recs, &n,
                                       &more, &err),
                 0, &err);
        assert_true(n <= (size_t)page);
        for (size_t i = 0; i < n; i++) {
            json_t *data = json_loads(recs[i].data, 0, NULL);
            assert_non_null(data);
            json_array_append_new(out, json_pack("{s:s, s:o, s:s}", "key", recs[i].key, "data",
                                                 data, "jobId", recs[i].job_id));
        }
        if (n)
            snprintf(after, sizeof after, "%s", recs[n - 1].key);
        sl_records_free(recs, n);
        if (!more)
            return out;
        assert_true(n > 0);
    }
    fail_msg("listing records did not end");
    return NULL;
}

/* Every stored row error of job_id as an array of {"row", "field", "value", "message"}, read
 * page by page (page errors a page). */
static json_t *all_errors(struct fx *f, const char *job_id, int page)
{
    json_t *out = json_array();
    int64_t after = 0, last_seq = 0;
    for (int guard = 0; guard < 100000; guard++) {
        struct sl_row_error_out *errs = NULL;
        size_t n = 0;
        int64_t next = -1;
        struct sl_error err = {0};
        check_rc(sl_store_list_row_errors(f->s, job_id, after, page, &errs, &n, &next, &err), 0,
                 &err);
        assert_true(n <= (size_t)page);
        for (size_t i = 0; i < n; i++) {
            assert_true(errs[i].seq > last_seq); /* in order, no repeats */
            last_seq = errs[i].seq;
            json_array_append_new(
                out, json_pack("{s:I, s:o, s:o, s:s}", "row", (json_int_t)errs[i].row, "field",
                               errs[i].field ? json_string(errs[i].field) : json_null(), "value",
                               errs[i].value ? json_string_nocheck(errs[i].value) : json_null(),
                               "message", errs[i].message));
        }
        sl_row_errors_free(errs, n);
        if (next == 0)
            return out;
        assert_true(n > 0);
        after = next;
    }
    fail_msg("listing row errors did not end");
    return NULL;
}

/* One row error: row, field, value (NULL: JSON null) and a message containing `why`. */
static void check_error_at(int line, json_t *e, int64_t row, const char *field, const char *value,
                           const char *why)
{
    char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text ? text : "(none)");
    free(text);
    json_t *r = json_object_get(e, "row"), *fl = json_object_get(e, "field");
    json_t *v = json_object_get(e, "value");
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!json_is_integer(r) || json_integer_value(r) != row)
        fail_msg("line %d: error %s: row is not %lld", line, buf, (long long)row);
    if (!json_is_string(fl) || strcmp(json_string_value(fl), field) != 0)
        fail_msg("line %d: error %s: field is not '%s'", line, buf, field);
    if (value ? !json_is_string(v) || strcmp(json_string_value(v), value) != 0
              : !(v == NULL || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))))
        fail_msg("line %d: error %s: value is not '%s'", line, buf, value ? value : "(none)");
    if (!msg || !strstr(msg, why))
        fail_msg("line %d: error %s: message does not contain '%s'", line, buf, why);
}
#define check_error(e, row, field, value, why) check_error_at(__LINE__, e, row, field, value, why)

/* A growing text buffer for generated files. */
struct text {
    char *p;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? room : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->p && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Records and row errors
 */

static const char machines_csv[] = "internalCode,name,year,kind,properties,site\n"
                                   "M-1,Press,2019,preventive,\"{\"\"power\"\": 5}\",North\n"
                                   "M-2,Lathe,,corrective,,South\n"
                                   "M-3,,2020,preventive,,East\n"
                                   "M-4,Drill,20x0,other,,West\n"
                                   "M-5,Saw, 1999 ,,\"[1,2]\",Dock 7\n";

static void test_csv_with_schema(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "acme", "machines", "machines.csv", machines_csv);
    int64_t t0 = sl_now_ms();
    json_t *s = import_ok(f, &f->machines);
    int64_t t1 = sl_now_ms();

    check_counts(s, "csv", 5, 3, 2, 3, 0);
    check_json(json_object_get(s, "columns"),
               "[\"internalCode\",\"name\",\"year\",\"kind\",\"properties\",\"site\"]");

    /* the good rows, converted; the column the schema does not name is kept as a string */
    check_record(f, "acme", "machines", "M-1",
                 "{\"internalCode\":\"M-1\",\"name\":\"Press\",\"year\":2019,\"kind\":"
                 "\"preventive\",\"properties\":{\"power\":5},\"site\":\"North\"}");
    check_record(f, "acme", "machines", "M-2",
                 "{\"internalCode\":\"M-2\",\"name\":\"Lathe\",\"year\":null,\"kind\":"
                 "\"corrective\",\"properties\":null,\"site\":\"South\"}");
    check_record(f, "acme", "machines", "M-5",
                 "{\"internalCode\":\"M-5\",\"name\":\"Saw\",\"year\":1999,\"kind\":null,"
                 "\"properties\":[1,2],\"site\":\"Dock 7\"}");
    /* a row with a bad value is not imported */
    check_no_record(f, "acme", "machines", "M-3");
    check_no_record(f, "acme", "machines", "M-4");

    /* records carry the job and their times */
    struct sl_record rec;
    struct sl_error err = {0};
    check_rc(sl_store_get_record(f->s, "acme", "machines", "M-1", &rec, &err), 0, &err);
    check_str(rec.job_id, f->job.id);
    check_range(rec.created_at, t0 - 1000, t1 + 1000);
    check_i64(rec.updated_at, rec.created_at);
    sl_record_fini(&rec);

    /* records are scoped by tenant and type */
    check_no_record(f, "default", "machines", "M-1");
    check_no_record(f, "acme", "csv", "M-1");
    json_t *list = all_records(f, "acme", "machines", 2);
    check_i64(json_array_size(list), 3);
    check_str(json_string_value(json_object_get(json_array_get(list, 0), "key")), "M-1");
    check_str(json_string_value(json_object_get(json_array_get(list, 1), "key")), "M-2");
    check_str(json_string_value(json_object_get(json_array_get(list, 2), "key")), "M-5");
    json_decref(list);

    /* every bad value is a row error, in the summary and in the store alike */
    json_t *errs = json_object_get(s, "errors");
    check_i64(json_array_size(errs), 3);
    check_error(json_array_get(errs, 0), 3, "name", NULL, "required");
    check_error(json_array_get(errs, 1), 4, "year", "20x0", "integer");
    check_error(json_array_get(errs, 2), 4, "kind", "other", "allowed");
    json_t *stored = all_errors(f, f->job.id, 2);
    check_i64(json_array_size(stored), 3);
    if (!json_equal(stored, errs))
        fail_msg("the stored row errors differ from the summary's");
    json_decref(stored);
    json_decref(s);
}

static void test_json_with_schema(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "default", "machines", "machines.json",
                 "[{\"internalCode\": \"J-1\", \"name\": \"Press\", \"year\": 2001,"
                 "  \"properties\": {\"power\": [1, 2], \"ok\": true}, \"kind\": \"corrective\"},"
                 " {\"internalCode\": \"J-2\", \"name\": \"Lathe\", \"year\": \"2002\","
                 "  \"properties\": null, \"active\": true, \"extra\": {\"a\": 1}, \"n\": 2.5},"
                 " {\"internalCode\": 7, \"name\": \"Numbered\"},"
                 " {\"internalCode\": \"J-4\", \"year\": 2004},"
                 " {\"internalCode\": \"J-5\", \"name\": \"Bad\", \"year\": 20.5,"
                 "  \"properties\": \"{not json\"}]");
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "json", 5, 3, 2, 3, 0);

    check_record(f, "default", "machines", "J-1",
                 "{\"internalCode\":\"J-1\",\"name\":\"Press\",\"year\":2001,\"properties\":"
                 "{\"power\":[1,2],\"ok\":true},\"kind\":\"corrective\"}");
    /* fields the schema does not name are kept as strings */
    check_record(f, "default", "machines", "J-2",
                 "{\"internalCode\":\"J-2\",\"name\":\"Lathe\",\"year\":2002,\"properties\":null,"
                 "\"active\":\"true\",\"extra\":\"{\\\"a\\\":1}\",\"n\":\"2.5\"}");
    /* a number in a string field is its text, and keys the record */
    check_record(f, "default", "machines", "7", "{\"internalCode\":\"7\",\"name\":\"Numbered\"}");
    check_no_record(f, "default", "machines", "J-4");
    check_no_record(f, "default", "machines", "J-5");

    /* a required field missing from the object altogether is an error too */
    json_t *errs = json_object_get(s, "errors");
    check_i64(json_array_size(errs), 3);
    check_error(json_array_get(errs, 0), 4, "name", NULL, "required");
    check_error(json_array_get(errs, 1), 5, "year", "20.5", "integer");
    check_error(json_array_get(errs, 2), 5, "properties", "{not json", "JSON");

    /* the columns are the keys seen */
    json_t *cols = json_object_get(s, "columns");
    static const char *const keys[] = {"internalCode", "name",   "year",  "properties",
                                       "kind",         "active", "extra", "n"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int found = 0;
        for (size_t k = 0; k < json_array_size(cols); k++)
            found |= strcmp(json_string_value(json_array_get(cols, k)), keys[i]) == 0;
        if (!found)
            fail_msg("columns lack '%s'", keys[i]);
    }
    json_decref(s);
}

static void test_ndjson_with_schema(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "default", "machines", "machines.ndjson",
                 "{\"internalCode\": \"N-1\", \"name\": \"Press\", \"year\": 1990}\n"
                 "{\"internalCode\": \"N-2\", \"name\": \"Lathe\", \"kind\": \"broken\"}\n"
                 "\n"
                 "{\"internalCode\": \"N-3\", \"name\": \"Saw\", \"properties\": [\"x\"]}\n");
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "ndjson", 3, 2, 1, 2, 0);
    check_record(f, "default", "machines", "N-1",
                 "{\"internalCode\":\"N-1\",\"name\":\"Press\",\"year\":1990}");
    check_record(f, "default", "machines", "N-3",
                 "{\"internalCode\":\"N-3\",\"name\":\"Saw\",\"properties\":[\"x\"]}");
    check_no_record(f, "default", "machines", "N-2");
    json_t *errs = json_object_get(s, "errors");
    check_i64(json_array_size(errs), 1);
    check_error(json_array_get(errs, 0), 2, "kind", "broken", "allowed");
    json_decref(s);
}

static void test_format_from_content(void **state)
{
    struct fx *f = *state;
    /* no telling extension: the first bytes decide */
    new_job_text(f, "default", "json", "export.dat", "[{\"a\": 1}, {\"a\": 2}]");
    json_t *s = import_ok(f, NULL);
    check_counts(s, "json", 2, 2, 0, 2, 0);
    json_decref(s);
    new_job_text(f, "default", "ndjson", "export", "{\"a\": 1}\n{\"a\": 2}\n");
    s = import_ok(f, NULL);
    check_counts(s, "ndjson", 2, 2, 0, 2, 0);
    json_decref(s);
    new_job_text(f, "default", "csv", "export.txt", "a;b\n1;2\n");
    s = import_ok(f, NULL);
    check_counts(s, "csv", 1, 1, 0, 1, 0);
    json_decref(s);
    new_job_text(f, "default", "csv", "export.tsv", "a\tb\n1\t2\n");
    s = import_ok(f, NULL);
    check_counts(s, "tsv", 1, 1, 0, 1, 0);
    json_decref(s);
}

static void test_no_schema_imports_as_is(void **state)
{
    struct fx *f = *state;
    char key[128];

    /* CSV: every value a string, empty cells null; keys "<jobId>:<row>" */
    new_job_text(f, "default", "csv", "plain.csv", "id,qty,note\n1,42,\n2,,hello\n");
    json_t *s = import_ok(f, NULL);
    check_counts(s, "csv", 2, 2, 0, 2, 0);
    check_json(json_object_get(s, "columns"), "[\"id\",\"qty\",\"note\"]");
    check_json(json_object_get(s, "errors"), "[]");
    snprintf(key, sizeof key, "%s:1", f->job.id);
    check_record(f, "default", "csv", key, "{\"id\":\"1\",\"qty\":\"42\",\"note\":null}");
    snprintf(key, sizeof key, "%s:2", f->job.id);
    check_record(f, "default", "csv", key, "{\"id\":\"2\",\"qty\":null,\"note\":\"hello\"}");
    json_decref(s);

    /* JSON: numbers, booleans and nested values as they are */
    new_job_text(f, "default", "json", "plain.json",
                 "[{\"n\": 42, \"x\": 1.5, \"b\": false, \"o\": {\"k\": [1, null]}, \"z\": null,"
                 " \"s\": \"text\"}]");
    s = import_ok(f, NULL);
    check_counts(s, "json", 1, 1, 0, 1, 0);
    snprintf(key, sizeof key, "%s:1", f->job.id);
    check_record(f, "default", "json", key,
                 "{\"n\":42,\"x\":1.5,\"b\":false,\"o\":{\"k\":[1,null]},\"z\":null,"
                 "\"s\":\"text\"}");
    json_decref(s);
    json_t *list = all_records(f, "default", "json", 10);
    check_i64(json_array_size(list), 1);
    json_decref(list);
}

/* The stored form of record key (raw SQLite): '[' for values under the job's columns, '{'. */
static char stored_form(struct fx *f, const char *key)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(path, sizeof path, "%s/s.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int64_t num = 0;
    size_t head = sl_record_key_split(key, strlen(key), &num);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT substr(data, 1, 1) FROM records"
                                        " WHERE key_head = ?1 AND key_num = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, (int)head, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, num);
    char form = sqlite3_step(st) == SQLITE_ROW ? ((const char *)sqlite3_column_text(st, 0))[0] : 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return form;
}

/* Record key's data text, exactly. */
static void check_record_text(struct fx *f, const char *type, const char *key, const char *want)
{
    struct sl_record rec;
    struct sl_error err = {0};
    check_rc(sl_store_get_record(f->s, "default", type, key, &rec, &err), 0, &err);
    check_str(rec.data, want);
    sl_record_fini(&rec);
}

/* Rows of a file with a header are stored as values under the job's columns and read back as the
 * same object text; a row with cells beyond the header, and JSON rows, are stored as objects. */
static void test_header_rows_are_stored_as_values(void **state)
{
    struct fx *f = *state;
    char key[128];
    new_job_text(f, "default", "csv", "v.csv", "id,na\"me,x\n1,\"a,b\",\n2\n3,c,d,extra\n");
    json_t *s = import_ok(f, NULL);
    check_counts(s, "csv", 3, 3, 0, 3, 0);
    json_decref(s);
    const char *want[3] = {"{\"id\":\"1\",\"na\\\"me\":\"a,b\",\"x\":null}",
                           "{\"id\":\"2\",\"na\\\"me\":null,\"x\":null}",
                           "{\"id\":\"3\",\"na\\\"me\":\"c\",\"x\":\"d\",\"column_4\":\"extra\"}"};
    const char forms[3] = {'[', '[', '{'};
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s:%d", f->job.id, i + 1);
        check_record_text(f, "csv", key, want[i]);
        if (stored_form(f, key) != forms[i])
            fail_msg("row %d stored as '%c', expected '%c'", i + 1, stored_form(f, key), forms[i]);
    }
    new_job_text(f, "default", "ndjson", "v.ndjson", "{\"a\":1}\n");
    s = import_ok(f, NULL);
    json_decref(s);
    snprintf(key, sizeof key, "%s:1", f->job.id);
    check_record_text(f, "ndjson", key, "{\"a\":1}");
    assert_int_equal(stored_form(f, key), '{');
}

static void test_keys_without_key_value(void **state)
{
    struct fx *f = *state;
    char key[128];
    /* a row lacking the key value gets "<jobId>:<row>" */
    new_job_text(f, "default", "machines", "m.csv",
                 "internalCode,name\nK-1,one\n,two\nK-3,three\n");
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", 3, 3, 0, 3, 0);
    json_decref(s);
    check_record(f, "default", "machines", "K-1", "{\"internalCode\":\"K-1\",\"name\":\"one\"}");
    snprintf(key, sizeof key, "%s:2", f->job.id);
    check_record(f, "default", "machines", key, "{\"internalCode\":null,\"name\":\"two\"}");
    check_record(f, "default", "machines", "K-3", "{\"internalCode\":\"K-3\",\"name\":\"three\"}");

    /* a file without the key column at all */
    new_job_text(f, "default", "machines", "m.csv", "name,year\nalpha,2001\nbeta,2002\n");
    s = import_ok(f, &f->machines);
    check_counts(s, "csv", 2, 2, 0, 2, 0);
    json_decref(s);
    snprintf(key, sizeof key, "%s:1", f->job.id);
    check_record(f, "default", "machines", key, "{\"name\":\"alpha\",\"year\":2001}");
    snprintf(key, sizeof key, "%s:2", f->job.id);
    check_record(f, "default", "machines", key, "{\"name\":\"beta\",\"year\":2002}");

    /* a schema without a key: every row keyed by job and row, even with the same values */
    struct sl_schema nokey;
    struct sl_error err = {0};
    json_t *import = json_loads("{\"fields\": {\"n\": {\"type\": \"integer\"}}}", 0, NULL);
    assert_non_null(import);
    check_rc(sl_schema_parse(import, "test", &nokey, &err), 0, &err);
    json_decref(import);
    new_job_text(f, "default", "counts", "c.csv", "n\n5\n5\n");
    s = import_ok(f, &nokey);
    check_counts(s, "csv", 2, 2, 0, 2, 0);
    json_decref(s);
    snprintf(key, sizeof key, "%s:1", f->job.id);
    check_record(f, "default", "counts", key, "{\"n\":5}");
    snprintf(key, sizeof key, "%s:2", f->job.id);
    check_record(f, "default", "counts", key, "{\"n\":5}");
    sl_schema_fini(&nokey);
}

static void test_same_key_twice_in_a_file(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "default", "machines", "m.csv",
                 "internalCode,name\nD-1,first\nD-2,other\nD-1,second\n");
    json_t *s = import_ok(f, &f->machines);
    /* the later row wins; the key was created once and then updated */
    check_counts(s, "csv", 3, 3, 0, 2, 1);
    json_decref(s);
    check_record(f, "default", "machines", "D-1", "{\"internalCode\":\"D-1\",\"name\":\"second\"}");
    json_t *list = all_records(f, "default", "machines", 50);
    check_i64(json_array_size(list), 2);
    json_decref(list);
}

static void test_invalid_utf8_is_a_row_error(void **state)
{
    struct fx *f = *state;
    /* with a schema (named and unnamed columns) and without one */
    new_job_text(f, "default", "machines", "m.csv",
                 "internalCode,name,site\nU-1,ok,here\nU-2,caf\xe9,x\nU-3,fine,caf\xe9\n");
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", 3, 1, 2, 1, 0);
    json_t *errs = json_object_get(s, "errors");
    check_i64(json_array_size(errs), 2);
    json_t *e = json_array_get(errs, 0);
    check_i64(json_integer_value(json_object_get(e, "row")), 2);
    check_str(json_string_value(json_object_get(e, "field")), "name");
    check_contains(json_string_value(json_object_get(e, "message")), "UTF-8");
    e = json_array_get(errs, 1);
    check_i64(json_integer_value(json_object_get(e, "row")), 3);
    check_str(json_string_value(json_object_get(e, "field")), "site");
    json_decref(s);
    check_no_record(f, "default", "machines", "U-2");
    check_no_record(f, "default", "machines", "U-3");
    /* both are in the store too (their values as the bytes came) */
    json_t *stored = all_errors(f, f->job.id, 10);
    check_i64(json_array_size(stored), 2);
    check_str(json_string_value(json_object_get(json_array_get(stored, 0), "field")), "name");
    check_str(json_string_value(json_object_get(json_array_get(stored, 1), "field")), "site");
    json_decref(stored);

    new_job_text(f, "default", "csv", "raw.csv", "a,b\n1,\xff\xfe\n2,ok\n");
    s = import_ok(f, NULL);
    check_counts(s, "csv", 2, 1, 1, 1, 0);
    json_decref(s);
}

static void test_tenants_are_separate(void **state)
{
    struct fx *f = *state;
    const char csv[] = "internalCode,name\nT-1,one\nT-2,two\n";
    new_job_text(f, "acme", "machines", "m.csv", csv);
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", 2, 2, 0, 2, 0);
    json_decref(s);
    new_job_text(f, "globex", "machines", "m.csv", "internalCode,name\nT-1,uno\n");
    s = import_ok(f, &f->machines);
    check_counts(s, "csv", 1, 1, 0, 1, 0); /* created, not updated: another tenant's key */
    json_decref(s);
    check_record(f, "acme", "machines", "T-1", "{\"internalCode\":\"T-1\",\"name\":\"one\"}");
    check_record(f, "globex", "machines", "T-1", "{\"internalCode\":\"T-1\",\"name\":\"uno\"}");
    check_no_record(f, "globex", "machines", "T-2");
    json_t *a = all_records(f, "acme", "machines", 50),
           *g = all_records(f, "globex", "machines", 50);
    check_i64(json_array_size(a), 2);
    check_i64(json_array_size(g), 1);
    json_decref(a);
    json_decref(g);
}

/* ---------------------------------------------------------------------------------------------
 * Idempotence
 */

static void test_reimport_is_idempotent(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "acme", "machines", "machines.csv", machines_csv);
    json_t *first = import_ok(f, &f->machines);
    check_counts(first, "csv", 5, 3, 2, 3, 0);
    json_t *records1 = all_records(f, "acme", "machines", 50);
    json_t *errors1 = all_errors(f, f->job.id, 50);
    struct sl_record before;
    struct sl_error err = {0};
    check_rc(sl_store_get_record(f->s, "acme", "machines", "M-1", &before, &err), 0, &err);

    usleep(5000);
    json_t *second = import_ok(f, &f->machines);
    /* the same job again: the same records, all of them counted as updated */
    check_counts(second, "csv", 5, 3, 2, 0, 3);
    json_t *records2 = all_records(f, "acme", "machines", 50);
    json_t *errors2 = all_errors(f, f->job.id, 50);
    if (!json_equal(records1, records2))
        fail_msg("the records changed on the second run");
    /* row errors replaced, not appended */
    check_i64(json_array_size(errors2), 3);
    if (!json_equal(errors1, errors2))
        fail_msg("the row errors changed on the second run");
    if (!json_equal(json_object_get(first, "errors"), json_object_get(second, "errors")))
        fail_msg("the summary's errors changed on the second run");

    struct sl_record after;
    check_rc(sl_store_get_record(f->s, "acme", "machines", "M-1", &after, &err), 0, &err);
    check_i64(after.created_at, before.created_at);
    assert_true(after.updated_at >= before.updated_at);
    sl_record_fini(&before);
    sl_record_fini(&after);

    /* a third run changes nothing either */
    json_t *third = import_ok(f, &f->machines);
    check_counts(third, "csv", 5, 3, 2, 0, 3);
    json_t *errors3 = all_errors(f, f->job.id, 50);
    check_i64(json_array_size(errors3), 3);
    json_decref(errors3);
    json_decref(third);

    /* run again without the schema (say sluice.json was fixed before a retry): the job's row
     * errors are those of the last run only, none */
    json_t *lenient = import_ok(f, NULL);
    check_counts(lenient, "csv", 5, 5, 0, 5, 0); /* "<jobId>:<row>" keys: new records */
    json_decref(lenient);
    json_t *errors4 = all_errors(f, f->job.id, 50);
    check_i64(json_array_size(errors4), 0);
    json_decref(errors4);

    json_decref(first);
    json_decref(second);
    json_decref(records1);
    json_decref(records2);
    json_decref(errors1);
    json_decref(errors2);
}

static void test_reimport_without_key_is_idempotent(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "default", "csv", "plain.csv", "a,b\n1,2\n3,4\n5,6\n");
    json_t *s = import_ok(f, NULL);
    check_counts(s, "csv", 3, 3, 0, 3, 0);
    json_decref(s);
    s = import_ok(f, NULL);
    check_counts(s, "csv", 3, 3, 0, 0, 3);
    json_decref(s);
    json_t *list = all_records(f, "default", "csv", 50);
    check_i64(json_array_size(list), 3);
    json_decref(list);
}

static void test_another_job_updates_the_records(void **state)
{
    struct fx *f = *state;
    new_job_text(f, "acme", "machines", "a.csv", "internalCode,name\nR-1,old\nR-2,kept\n");
    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", 2, 2, 0, 2, 0);
    json_decref(s);
    char first_job[SL_UUID_MAX];
    memcpy(first_job, f->job.id, SL_UUID_MAX);

    new_job_text(f, "acme", "machines", "b.csv", "internalCode,name\nR-1,new\nR-3,added\n");
    s = import_ok(f, &f->machines);
    check_counts(s, "csv", 2, 2, 0, 1, 1);
    json_decref(s);
    json_t *d = record_data(f, "acme", "machines", "R-1", f->job.id);
    assert_non_null(d);
    check_json(d, "{\"internalCode\":\"R-1\",\"name\":\"new\"}");
    json_decref(d);
    d = record_data(f, "acme", "machines", "R-2", first_job);
    assert_non_null(d);
    json_decref(d);
    json_t *list = all_records(f, "acme", "machines", 50);
    check_i64(json_array_size(list), 3);
    json_decref(list);
}

/* ---------------------------------------------------------------------------------------------
 * Size
 */

static void test_rows_span_store_batches(void **state)
{
    struct fx *f = *state;
    const int batch = SL_IMPORT_BATCH_ROWS, rows = 2 * SL_IMPORT_BATCH_ROWS + 500;
    struct text t = {0};
    add(&t, "internalCode,name,year\n");
    for (int i = 1; i <= rows; i++)
        add(&t, "C-%05d,machine %d,%d\n", i, i, 1900 + i % 100);
    new_job(f, "default", "machines", "big.csv", t.p, t.len);
    free(t.p);

    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", rows, rows, 0, rows, 0);
    json_decref(s);
    json_t *list = all_records(f, "default", "machines", 2000);
    check_i64(json_array_size(list), rows);
    for (int i = 1; i <= rows; i++) {
        char key[32], want[128];
        snprintf(key, sizeof key, "C-%05d", i);
        json_t *rec = json_array_get(list, (size_t)i - 1);
        check_str(json_string_value(json_object_get(rec, "key")), key);
        check_str(json_string_value(json_object_get(rec, "jobId")), f->job.id);
        if (i == 1 || i == batch || i == batch + 1 || i == 2 * batch || i == 2 * batch + 1 ||
            i % 997 == 0 || i == rows) {
            snprintf(want, sizeof want,
                     "{\"internalCode\":\"%s\",\"name\":\"machine %d\",\"year\":%d}", key, i,
                     1900 + i % 100);
            check_json(json_object_get(rec, "data"), want);
        }
    }
    json_decref(list);

    /* again: every one of them updated, none created */
    s = import_ok(f, &f->machines);
    check_counts(s, "csv", rows, rows, 0, 0, rows);
    json_decref(s);
}

/* A store failure in a middle batch fails the import with the store's message, and nothing after
 * that batch is written (the batch before it stays: it was committed). A trigger makes row
 * 15,000's insert fail. */
static void test_store_failure_in_a_middle_batch_fails_the_import(void **state)
{
    struct fx *f = *state;
    const int rows = 2 * SL_IMPORT_BATCH_ROWS + 500;
    char path[PATH_MAX], *result = NULL;
    struct sl_error err = {0};
    struct text t = {0};
    sqlite3 *db = NULL;

    snprintf(path, sizeof path, "%s/s.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER fail_one BEFORE INSERT ON records"
                                  " WHEN NEW.key_head = 'C-15000'"
                                  " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    add(&t, "internalCode,name\n");
    for (int i = 1; i <= rows; i++)
        add(&t, "C-%05d,machine %d\n", i, i);
    new_job(f, "default", "machines", "big.csv", t.p, t.len);
    free(t.p);

    int rc = run_import_until(f, &f->machines, 0, &result, &err);
    if (rc == 0 || !strstr(err.msg, "injected failure"))
        fail_msg("the import returned %d (%s), expected a store error naming the trigger's", rc,
                 err.msg);
    json_t *list = all_records(f, "default", "machines", 2000);
    check_i64(json_array_size(list), SL_IMPORT_BATCH_ROWS);
    json_decref(list);
}

/* A batch also ends at SL_IMPORT_BATCH_BYTES of text: rows of 100 KB make several batches of
 * fewer than SL_IMPORT_BATCH_ROWS rows. */
static void test_large_rows_span_store_batches(void **state)
{
    struct fx *f = *state;
    const int rows = 250, width = 100000;
    char *note = malloc(width + 1);
    assert_non_null(note);
    struct text t = {0};
    add(&t, "id,note,tail\n");
    for (int i = 1; i <= rows; i++) {
        memset(note, 'a' + i % 26, width);
        note[width] = '\0';
        add(&t, "%d,%s,end %d\n", i, note, i);
    }
    new_job(f, "default", "notes", "wide.csv", t.p, t.len);
    free(t.p);
    json_t *s = import_ok(f, NULL);
    check_counts(s, "csv", rows, rows, 0, rows, 0);
    json_decref(s);
    for (int i = 1; i <= rows; i += 37) {
        char key[80];
        snprintf(key, sizeof key, "%s:%d", f->job.id, i);
        json_t *data = record_data(f, "default", "notes", key, f->job.id);
        assert_non_null(data);
        memset(note, 'a' + i % 26, width);
        check_str(json_string_value(json_object_get(data, "note")), note);
        char tail[32];
        snprintf(tail, sizeof tail, "end %d", i);
        check_str(json_string_value(json_object_get(data, "tail")), tail);
        json_decref(data);
    }
    free(note);
}

/* Good and bad rows alternate, the bad value in the middle of its row, for more than a batch of
 * row errors: a full batch of errors (and the records before it) is written while a bad row is
 * half built, and the good rows around it must come out whole. */
static void test_errors_end_a_batch_in_the_middle_of_a_row(void **state)
{
    struct fx *f = *state;
    const int rows = 2 * SL_IMPORT_BATCH_ROWS + 301;
    struct text t = {0};
    add(&t, "internalCode,name,year,kind\n");
    for (int i = 1; i <= rows; i++) {
        if (i % 2)
            add(&t, "G-%05d,good %d,%d,preventive\n", i, i, 1950 + i % 50);
        else
            add(&t, "B-%05d,bad %d,year %d,corrective\n", i, i, i);
    }
    new_job(f, "default", "machines", "mixed.csv", t.p, t.len);
    free(t.p);
    json_t *s = import_ok(f, &f->machines);
    int good = (rows + 1) / 2;
    check_counts(s, "csv", rows, good, rows - good, good, 0);
    json_decref(s);
    json_t *list = all_records(f, "default", "machines", 5000);
    check_i64(json_array_size(list), good);
    for (int k = 0; k < good; k++) {
        int i = 2 * k + 1;
        char key[32], want[160];
        snprintf(key, sizeof key, "G-%05d", i);
        json_t *rec = json_array_get(list, (size_t)k);
        check_str(json_string_value(json_object_get(rec, "key")), key);
        snprintf(want, sizeof want,
                 "{\"internalCode\":\"%s\",\"name\":\"good %d\",\"year\":%d,"
                 "\"kind\":\"preventive\"}",
                 key, i, 1950 + i % 50);
        check_json(json_object_get(rec, "data"), want);
    }
    json_decref(list);
    json_t *stored = all_errors(f, f->job.id, 3000);
    check_i64(json_array_size(stored), rows - good);
    for (int k = 0; k < rows - good; k += 101) {
        char value[32];
        snprintf(value, sizeof value, "year %d", 2 * k + 2);
        check_error(json_array_get(stored, (size_t)k), 2 * k + 2, "year", value, "integer");
    }
    json_decref(stored);
}

/*
 * The store's upsert (SQLite writes chunks of rows per statement) must count and write exactly as
 * rows applied one by one would: random batches over a few keys, so that keys repeat within a
 * chunk, within a batch and across batches, against a model that applies them one by one.
 */
static void test_upsert_counts_as_one_by_one(void **state)
{
    struct fx *f = *state;
    enum { KEYS = 40 };
    struct {
        int exists;
        char data[32], job[SL_UUID_MAX];
        int64_t created_at, updated_at;
    } model[KEYS];
    memset(model, 0, sizeof model);
    char jobs[2][SL_UUID_MAX], keys[KEYS][16], texts[80][32];
    assert_int_equal(sl_uuid7(1000, jobs[0]), 0);
    assert_int_equal(sl_uuid7(2000, jobs[1]), 0);
    for (int k = 0; k < KEYS; k++)
        snprintf(keys[k], sizeof keys[k], "k%02d", k);
    uint32_t seed = 99;
    struct sl_record_in recs[80];
    for (int round = 0; round < 120; round++) {
        size_t n = sl_test_next_random(&seed) % 80;
        const char *job = jobs[round % 2];
        int64_t now = 1700000000000 + round, want_c = 0, want_u = 0;
        int span = round % 3 == 0 ? KEYS : 12; /* now and then few keys: many repeats */
        for (size_t j = 0; j < n; j++) {
            int k = (int)(sl_test_next_random(&seed) % (uint32_t)span);
            snprintf(texts[j], sizeof texts[j], "{\"v\":%d}", round * 100 + (int)j);
            recs[j] = (struct sl_record_in){keys[k], texts[j]};
            if (model[k].exists) {
                want_u++;
            } else {
                want_c++;
                model[k].exists = 1;
                model[k].created_at = now;
            }
            memcpy(model[k].data, texts[j], sizeof model[k].data);
            snprintf(model[k].job, sizeof model[k].job, "%s", job);
            model[k].updated_at = now;
        }
        int64_t created = 7, updated = 9;
        struct sl_error err = {0};
        check_rc(sl_store_upsert_records(f->s, "default", "model", job, NULL, recs, n, now,
                                         &created, &updated, &err),
                 0, &err);
        if (created != 7 + want_c || updated != 9 + want_u)
            fail_msg("round %d (%zu rows): created %lld updated %lld, expected %lld and %lld",
                     round, n, (long long)(created - 7), (long long)(updated - 9),
                     (long long)want_c, (long long)want_u);
    }
    for (int k = 0; k < KEYS; k++) {
        struct sl_record r;
        struct sl_error err = {0};
        int rc = sl_store_get_record(f->s, "default", "model", keys[k], &r, &err);
        if (!model[k].exists) {
            check_rc(rc, SL_ENOT_FOUND, &err);
            continue;
        }
        check_rc(rc, 0, &err);
        check_str(r.data, model[k].data);
        check_str(r.job_id, model[k].job);
        check_i64(r.created_at, model[k].created_at);
        check_i64(r.updated_at, model[k].updated_at);
        sl_record_fini(&r);
    }
}

static void test_more_than_100_row_errors(void **state)
{
    struct fx *f = *state;
    const int rows = SL_IMPORT_BATCH_ROWS + 300; /* every row bad (more than one store batch of
                                                    them), then a good one */
    struct text t = {0};
    add(&t, "internalCode,name,year\n");
    for (int i = 1; i <= rows; i++)
        add(&t, "E-%05d,machine %d,year %d\n", i, i, i);
    add(&t, "E-good,fine,2000\n");
    new_job(f, "default", "machines", "errors.csv", t.p, t.len);
    free(t.p);

    json_t *s = import_ok(f, &f->machines);
    check_counts(s, "csv", rows + 1, 1, rows, 1, 0);
    /* the summary holds exactly the first 100 */
    json_t *errs = json_object_get(s, "errors");
    check_i64(json_array_size(errs), SL_IMPORT_SUMMARY_ERRORS);
    check_i64(json_array_size(errs), 100);
    for (int i = 0; i < 100; i++) {
        char value[32];
        snprintf(value, sizeof value, "year %d", i + 1);
        check_error(json_array_get(errs, (size_t)i), i + 1, "year", value, "integer");
    }
    /* the store holds all of them, in row order, once */
    json_t *stored = all_errors(f, f->job.id, 97);
    check_i64(json_array_size(stored), rows);
    for (int i = 0; i < rows; i++) {
        char value[32];
        snprintf(value, sizeof value, "year %d", i + 1);
        check_error(json_array_get(stored, (size_t)i), i + 1, "year", value, "integer");
    }
    json_decref(stored);
    json_decref(s);

    /* re-run: still one of each */
    s = import_ok(f, &f->machines);
    check_counts(s, "csv", rows + 1, 1, rows, 0, 1);
    check_i64(json_array_size(json_object_get(s, "errors")), 100);
    json_decref(s);
    stored = all_errors(f, f->job.id, 1000);
    check_i64(json_array_size(stored), rows);
    json_decref(stored);
}

/* ---------------------------------------------------------------------------------------------
 * File-level faults
 */

static void test_broken_files_fail_the_job(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;

    /* an unterminated quote at the end: where */
    new_job_text(f, "default", "machines", "broken.csv",
                 "internalCode,name\nB-1,one\nB-2,two\nB-3,\"never closed\n");
    check_rc(run_import_until(f, &f->machines, 0, &result, &err), SL_EPROCESS, &err);
    check_contains(err.msg, "line 4");
    check_contains(err.msg, "unterminated");

    /* and without a schema */
    new_job_text(f, "default", "csv", "broken.csv", "a,b\n1,2\n\"x,3\n4,5\n");
    check_rc(run_import_until(f, NULL, 0, &result, &err), SL_EPROCESS, &err);
    check_contains(err.msg, "line 3");

    /* broken JSON */
    new_job_text(f, "default", "json", "broken.json", "[{\"a\": 1}, {\"a\": ");
    check_rc(run_import_until(f, NULL, 0, &result, &err), SL_EPROCESS, &err);
    assert_true(err.msg[0] != '\0');
    new_job_text(f, "default", "json", "scalar.json", "[1, 2, 3]");
    check_rc(run_import_until(f, NULL, 0, &result, &err), SL_EPROCESS, &err);

    /* a broken NDJSON line: which line */
    new_job_text(f, "default", "ndjson", "broken.ndjson", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": \n");
    check_rc(run_import_until(f, NULL, 0, &result, &err), SL_EPROCESS, &err);
    check_contains(err.msg, "line 3");

    /* a corrupt zip named .xlsx */
    static const char zip[] = "PK\003\004this is not really a zip file at all";
    new_job(f, "default", "sheet", "broken.xlsx", zip, sizeof zip - 1);
    check_rc(run_import_until(f, NULL, 0, &result, &err), SL_EPROCESS, &err);
    assert_true(err.msg[0] != '\0');

    /* a missing blob is an error too, though not the file's fault */
    new_job_text(f, "default", "csv", "gone.csv", "a\n1\n");
    struct sl_error rm = {0};
    check_rc(sl_blob_remove(f->b, f->job.blob_key, &rm), 0, &rm);
    int rc = run_import_until(f, NULL, 0, &result, &err);
    if (rc == 0)
        fail_msg("importing a missing blob succeeded");
}

static void test_deadline_in_the_past(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    struct text t = {0};
    add(&t, "internalCode,name\n");
    for (int i = 1; i <= 3000; i++) /* more rows than any stride between looks at the clock */
        add(&t, "X-%05d,machine %d\n", i, i);
    new_job(f, "default", "machines", "m.csv", t.p, t.len);
    free(t.p);
    int rc = run_import_until(f, &f->machines, sl_now_ms() - 1000, &result, &err);
    if (rc == 0)
        fail_msg("an import past its deadline succeeded");
    check_contains(err.msg, "timed out");
}

/* ---------------------------------------------------------------------------------------------
 * Progress, the lease and the deadline while an import runs. The job's file is a FIFO that a
 * feeder thread writes in three parts with pauses, so an import lasts as long as the test likes.
 */

struct feed {
    char path[PATH_MAX];
    const char *head, *middle, *tail;
    int pause_ms; /* after head */
    int probe_ms; /* after middle, then the job is read from the store */
    struct sl_store *s;
    char job_id[SL_UUID_MAX];
    int probed;
    enum sl_job_status probe_status;
    char probe_result[4096];
    int opened;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Writes text; gives up quietly when the import stopped reading (EPIPE). */
static void feed_text(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void *feeder(void *arg)
{
    struct feed *fd_ = arg;
    int fd = -1;
    /* the import opens the FIFO for reading; wait for it up to 10 s */
    for (int i = 0; i < 1000 && fd < 0; i++) {
        fd = open(fd_->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            sleep_ms(10);
    }
    if (fd < 0)
        return NULL;
    fd_->opened = 1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    feed_text(fd, fd_->head);
    sleep_ms(fd_->pause_ms);
    feed_text(fd, fd_->middle);
    sleep_ms(fd_->probe_ms);
    if (fd_->s) {
        struct sl_job j;
        struct sl_error err = {0};
        if (sl_store_get_job(fd_->s, fd_->job_id, &j, &err) == 0) {
            fd_->probed = 1;
            fd_->probe_status = j.status;
            snprintf(fd_->probe_result, sizeof fd_->probe_result, "%s", j.result ? j.result : "");
            sl_job_fini(&j);
        }
    }
    feed_text(fd, fd_->tail);
    close(fd);
    return NULL;
}

/* Stores f->job in the store and claims it, so it is processing under a fence; f->job becomes
 * the claimed job (with that fence). */
static void store_and_claim(struct fx *f)
{
    struct sl_error err = {0};
    struct sl_job *jobs = NULL;
    size_t n = 0;
    f->job.status = SL_JOB_PENDING;
    f->job.fence = 0;
    sl_test_insert_jobs(f->s, &f->job, 1);
    check_rc(sl_store_claim(f->s, sl_now_ms() + 1000, 1, 600000, &jobs, &n, &err), 0, &err);
    check_i64(n, 1);
    check_str(jobs[0].id, f->job.id);
    check_status(jobs[0].status, SL_JOB_PROCESSING);
    sl_job_fini(&f->job);
    f->job = jobs[0]; /* takes over its strings */
    free(jobs);
}

/* Replaces the stored file of f->job by a FIFO and prepares a feed for it. */
static void fifo_job(struct fx *f, struct feed *feed)
{
    memset(feed, 0, sizeof *feed);
    snprintf(feed->path, sizeof feed->path, "%s/%s", f->blob_root, f->job.blob_key);
    assert_int_equal(unlink(feed->path), 0);
    assert_int_equal(mkfifo(feed->path, 0644), 0);
    memcpy(feed->job_id, f->job.id, SL_UUID_MAX);
}

/*
 * The feed: a header and three parts of FEED_PART rows each. An import may look at the clock
 * only every so many rows (not after each one), so every part is longer than any such stride.
 */
#define FEED_PART 1100

static void feed_parts(struct feed *feed)
{
    struct text part[3] = {{0}, {0}, {0}};
    add(&part[0], "internalCode,name\n");
    for (int i = 1; i <= 3 * FEED_PART; i++)
        add(&part[(i - 1) / FEED_PART], "P-%05d,machine %d\n", i, i);
    feed->head = part[0].p;
    feed->middle = part[1].p;
    feed->tail = part[2].p;
}

static void feed_free(struct feed *feed)
{
    free((char *)feed->head);
    free((char *)feed->middle);
    free((char *)feed->tail);
}

static void test_progress_while_running(void **state)
{
    struct fx *f = *state;
    struct feed feed;
    struct sl_error err = {0};
    pthread_t th;
    char *result;
    new_job_text(f, "default", "machines", "slow.csv", "");
    store_and_claim(f);
    fifo_job(f, &feed);
    feed_parts(&feed);
    feed.pause_ms = 1300; /* > the 1 s between progress updates */
    feed.probe_ms = 500;
    feed.s = f->s;
    assert_int_equal(pthread_create(&th, NULL, feeder, &feed), 0);
    int rc = run_import_until(f, &f->machines, 0, &result, &err);
    pthread_join(th, NULL);
    feed_free(&feed);
    assert_true(feed.opened);
    check_rc(rc, 0, &err);

    /* while it ran, the job's result held the counters so far: published after the pause, so
     * past the first part, and before the probe, so not past the second */
    assert_true(feed.probed);
    check_status(feed.probe_status, SL_JOB_PROCESSING);
    json_t *p = json_loads(feed.probe_result, 0, NULL);
    if (!json_is_object(p))
        fail_msg("the job's result while running is '%s', expected the counters so far",
                 feed.probe_result);
    int64_t so_far = member_int(p, "processedRows");
    check_range(so_far, FEED_PART + 1, 2 * FEED_PART);
    check_i64(member_int(p, "totalRows"), so_far);
    check_i64(member_int(p, "successRows"), so_far);
    check_i64(member_int(p, "errorRows"), 0);
    check_str(json_string_value(json_object_get(p, "format")), "csv");
    check_json(json_object_get(p, "columns"), "[\"internalCode\",\"name\"]");
    json_decref(p);

    /* the final summary counts them all; the job itself is the runner's to finish */
    json_t *s = json_loads(result, 0, NULL);
    free(result);
    check_counts(s, "csv", 3 * FEED_PART, 3 * FEED_PART, 0, 3 * FEED_PART, 0);
    json_decref(s);
    struct sl_job j;
    sl_test_get_job(f->s, f->job.id, &j);
    check_status(j.status, SL_JOB_PROCESSING);
    check_i64(j.attempts, 0);
    sl_job_fini(&j);
    json_t *list = all_records(f, "default", "machines", 50);
    check_i64(json_array_size(list), 3 * FEED_PART);
    json_decref(list);
}

static void test_lost_lease_stops_the_import(void **state)
{
    struct fx *f = *state;
    struct feed feed;
    struct sl_error err = {0};
    pthread_t th;
    char *result;
    new_job_text(f, "default", "machines", "slow.csv", "");
    store_and_claim(f);
    int64_t fence = f->job.fence;
    f->job.fence = fence + 7; /* another worker's claim since */
    fifo_job(f, &feed);
    feed_parts(&feed);
    feed.pause_ms = 1300;
    feed.probe_ms = 100;
    feed.s = f->s;
    assert_int_equal(pthread_create(&th, NULL, feeder, &feed), 0);
    int rc = run_import_until(f, &f->machines, 0, &result, &err);
    pthread_join(th, NULL);
    feed_free(&feed);
    assert_true(feed.opened);
    check_rc(rc, SL_EFENCED, &err);

    /* the job's row was not written under the wrong fence */
    struct sl_job j;
    sl_test_get_job(f->s, f->job.id, &j);
    check_status(j.status, SL_JOB_PROCESSING);
    assert_null(j.result);
    check_i64(j.fence, fence);
    sl_job_fini(&j);
}

static void test_deadline_while_running(void **state)
{
    struct fx *f = *state;
    struct feed feed;
    struct sl_error err = {0};
    pthread_t th;
    char *result;
    new_job_text(f, "default", "machines", "slow.csv", "");
    fifo_job(f, &feed);
    feed_parts(&feed);
    feed.pause_ms = 900;
    assert_int_equal(pthread_create(&th, NULL, feeder, &feed), 0);
    int rc = run_import_until(f, &f->machines, sl_now_ms() + 400, &result, &err);
    pthread_join(th, NULL);
    feed_free(&feed);
    assert_true(feed.opened);
    if (rc == 0)
        fail_msg("an import running past its deadline succeeded");
    check_contains(err.msg, "timed out");
}

static void test_progress_is_fenced(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    new_job_text(f, "default", "machines", "m.csv", "internalCode,name\nF-1,one\n");
    store_and_claim(f);
    json_t *s = import_ok(f, &f->machines);
    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    assert_non_null(text);

    /* the summary can be published under the job's fence, and not under another one */
    check_rc(sl_store_progress(f->s, f->job.id, f->job.fence, text, &err), 0, &err);
    check_rc(sl_store_progress(f->s, f->job.id, f->job.fence + 1, "{\"stale\":true}", &err),
             SL_EFENCED, &err);
    check_rc(sl_store_progress(f->s, f->job.id, f->job.fence - 1, "{\"stale\":true}", &err),
             SL_EFENCED, &err);
    struct sl_job j;
    sl_test_get_job(f->s, f->job.id, &j);
    check_str(j.result, text);
    sl_job_fini(&j);

    /* once the job is finished, progress is refused even under its own fence */
    check_rc(sl_store_complete(f->s, f->job.id, f->job.fence, sl_now_ms(), 5, text, &err), 0, &err);
    check_rc(sl_store_progress(f->s, f->job.id, f->job.fence, "{\"late\":true}", &err), SL_EFENCED,
             &err);
    sl_test_get_job(f->s, f->job.id, &j);
    check_str(j.result, text);
    check_status(j.status, SL_JOB_COMPLETED);
    sl_job_fini(&j);
    free(text);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the feeder writes to a FIFO the import may have closed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_with_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_with_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ndjson_with_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_from_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_schema_imports_as_is, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_rows_are_stored_as_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_without_key_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_key_twice_in_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_is_a_row_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenants_are_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_without_key_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_job_updates_the_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_span_store_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure_in_a_middle_batch_fails_the_import,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_rows_span_store_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_end_a_batch_in_the_middle_of_a_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upsert_counts_as_one_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_than_100_row_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_files_fail_the_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_in_the_past, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_lease_stops_the_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_is_fenced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
