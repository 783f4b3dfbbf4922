/*
 * test_procconf: the processors of sluice.json (src/core/procconf.h): parsing the contract's
 * example, every configuration mistake (each message must name the file and the place),
 * loading from a file (a missing one is an empty configuration), and filling the processor
 * registry: the built-in imports, the configured types, and built-ins they replace.
 */
#include "testutil.h"

#include "core/proc_command.h"
#include "core/processor.h"
#include "core/procconf.h"
#include "import/importer.h"
#include "import/schema.h"

#include <sys/stat.h>

/* The contract's example. */
static const char example[] =
    "{\"processors\": {\n"
    "   \"machines\": {\"import\": {\"key\": \"internalCode\",\n"
    "                 \"fields\": {\"internalCode\": {\"type\": \"string\"},\n"
    "                            \"name\": {\"type\": \"string\", \"required\": true},\n"
    "                            \"year\": {\"type\": \"integer\"},\n"
    "                            \"kind\": {\"type\": \"string\", \"enum\": [\"preventive\", "
    "\"corrective\"]},\n"
    "                            \"properties\": {\"type\": \"json\"}}}},\n"
    "   \"orders\":   {\"command\": [\"./bin/import-orders\", \"--strict\"], \"timeoutSeconds\": "
    "60}}}\n";

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

static const struct sl_procconf_entry *entry(const struct sl_procconf *pc, const char *type)
{
    for (size_t i = 0; i < pc->count; i++)
        if (strcmp(pc->entries[i].type, type) == 0)
            return &pc->entries[i];
    return NULL;
}

static void check_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text, part);
}

/* Parsing text as "sluice.json" must fail with SL_ECONFIG and a message holding every one of
 * the NULL-terminated parts (the file and the place). */
static void check_error_at(int line, const char *text, ...)
{
    struct sl_procconf pc;
    struct sl_error err = {0};
    memset(&pc, 0, sizeof pc);
    int rc = sl_procconf_parse(text, "sluice.json", &pc, &err);
    if (rc != SL_ECONFIG) {
        sl_procconf_fini(&pc);
        fail_msg("line %d: parsing %s returned %d (%s), expected invalid_config", line, text, rc,
                 err.msg);
    }
    sl_procconf_fini(&pc); /* harmless after a failed parse; must not double-free */
    check_contains(err.msg, "sluice.json");
    va_list ap;
    va_start(ap, text);
    for (const char *part; (part = va_arg(ap, const char *)) != NULL;) {
        if (!strstr(err.msg, part)) {
            va_end(ap);
            fail_msg("line %d: error '%s' does not contain '%s'", line, err.msg, part);
        }
    }
    va_end(ap);
}
#define check_error(...) check_error_at(__LINE__, __VA_ARGS__, (const char *)NULL)

/* ---------------------------------------------------------------------------------------------
 * Parsing
 */

static void test_parse_contract_example(void **state)
{
    (void)state;
    struct sl_procconf pc;
    struct sl_error err = {0};
    check_rc(sl_procconf_parse(example, "sluice.json", &pc, &err), 0, &err);
    check_i64(pc.count, 2);

    const struct sl_procconf_entry *m = entry(&pc, "machines");
    assert_non_null(m);
    assert_false(m->is_command);
    check_str(m->schema.key, "internalCode");
    check_i64(m->schema.count, 5);
    const struct sl_schema_field *f = sl_schema_find(&m->schema, "year");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_INTEGER);
    f = sl_schema_find(&m->schema, "name");
    assert_non_null(f);
    assert_true(f->required);
    f = sl_schema_find(&m->schema, "kind");
    assert_non_null(f);
    check_i64(f->enum_count, 2);
    f = sl_schema_find(&m->schema, "properties");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_JSON);

    const struct sl_procconf_entry *o = entry(&pc, "orders");
    assert_non_null(o);
    assert_true(o->is_command);
    assert_non_null(o->command.argv);
    check_str(o->command.argv[0], "./bin/import-orders");
    check_str(o->command.argv[1], "--strict");
    assert_null(o->command.argv[2]);
    check_i64(o->command.timeout_s, 60);

    assert_null(entry(&pc, "csv"));
    sl_procconf_fini(&pc);
    check_i64(pc.count, 0);
    assert_null(pc.entries);
}

static void test_parse_valid_variants(void **state)
{
    (void)state;
    struct sl_procconf pc;
    struct sl_error err = {0};

    /* nothing configured */
    check_rc(sl_procconf_parse("{}", "sluice.json", &pc, &err), 0, &err);
    check_i64(pc.count, 0);
    sl_procconf_fini(&pc);
    check_rc(sl_procconf_parse("{\"processors\": {}}", "sluice.json", &pc, &err), 0, &err);
    check_i64(pc.count, 0);
    sl_procconf_fini(&pc);

    /* a command without timeoutSeconds: 0, the job's own deadline only; a schema-less import;
     * names with every allowed character */
    check_rc(
        sl_procconf_parse("{\"processors\": {\"a-b_c.d9\": {\"command\": [\"wc\", \"-c\"]},"
                          " \"plain\": {\"import\": {}},"
                          " \"quick\": {\"command\": [\"/bin/true\"], \"timeoutSeconds\": 1}}}",
                          "sluice.json", &pc, &err),
        0, &err);
    check_i64(pc.count, 3);
    const struct sl_procconf_entry *e = entry(&pc, "a-b_c.d9");
    assert_non_null(e);
    assert_true(e->is_command);
    check_i64(e->command.timeout_s, 0);
    check_str(e->command.argv[0], "wc");
    check_str(e->command.argv[1], "-c");
    assert_null(e->command.argv[2]);
    e = entry(&pc, "plain");
    assert_non_null(e);
    assert_false(e->is_command);
    assert_null(e->schema.key);
    check_i64(e->schema.count, 0);
    e = entry(&pc, "quick");
    assert_non_null(e);
    check_i64(e->command.timeout_s, 1);
    sl_procconf_fini(&pc);
}

static void test_parse_errors_name_the_place(void **state)
{
    (void)state;
    /* type names */
    check_error("{\"processors\": {\"bad type\": {\"command\": [\"x\"]}}}", "bad type");
    check_error("{\"processors\": {\"a/b\": {\"command\": [\"x\"]}}}", "a/b");
    check_error("{\"processors\": {\"\": {\"command\": [\"x\"]}}}", "processor type");
    check_error(
        "{\"processors\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "\": {\"command\": [\"x\"]}}}",
        "aaaaaaaaaaaaaaaa");
    /* both, neither, not an object */
    check_error("{\"processors\": {\"orders\": {\"import\": {}, \"command\": [\"x\"]}}}",
                "processors.orders", "import", "command");
    check_error("{\"processors\": {\"orders\": {}}}", "processors.orders", "import", "command");
    check_error("{\"processors\": {\"orders\": {\"timeoutSeconds\": 5}}}", "processors.orders");
    check_error("{\"processors\": {\"orders\": 5}}", "processors.orders");
    check_error("{\"processors\": {\"orders\": [\"./x\"]}}", "processors.orders");
    /* command: empty, not an array, not strings */
    check_error("{\"processors\": {\"orders\": {\"command\": []}}}", "processors.orders.command");
    check_error("{\"processors\": {\"orders\": {\"command\": \"./bin/x --strict\"}}}",
                "processors.orders.command");
    check_error("{\"processors\": {\"orders\": {\"command\": [1]}}}", "processors.orders.command");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"./x\", 5]}}}",
                "processors.orders.command");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"./x\", null]}}}",
                "processors.orders.command");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"\"]}}}",
                "processors.orders.command");
    /* timeoutSeconds */
    check_error("{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": 0}}}",
                "processors.orders.timeoutSeconds");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": -5}}}",
                "processors.orders.timeoutSeconds");
    check_error(
        "{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": \"60\"}}}",
        "processors.orders.timeoutSeconds");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": 1.5}}}",
                "processors.orders.timeoutSeconds");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": true}}}",
                "processors.orders.timeoutSeconds");
    check_error("{\"processors\": {\"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": null}}}",
                "processors.orders.timeoutSeconds");
    /* a schema's own mistakes, with the path down to the field */
    check_error("{\"processors\": {\"machines\": {\"import\": {\"fields\": {\"year\": {\"type\": "
                "\"int\"}}}}}}",
                "sluice.json: processors.machines.import.fields.year.type");
    check_error("{\"processors\": {\"machines\": {\"import\": {\"fields\": {\"name\": "
                "{\"required\": \"yes\"}}}}}}",
                "processors.machines.import.fields.name.required");
    check_error("{\"processors\": {\"machines\": {\"import\": {\"fields\": {\"kind\": {\"enum\": "
                "[1]}}}}}}",
                "processors.machines.import.fields.kind.enum");
    check_error("{\"processors\": {\"machines\": {\"import\": {\"fields\": [\"name\"]}}}}",
                "processors.machines.import.fields");
    check_error("{\"processors\": {\"machines\": {\"import\": [] }}}",
                "processors.machines.import");
    /* a mistake after a good entry: the good one is released too */
    check_error("{\"processors\": {\"machines\": {\"import\": {\"key\": \"k\", \"fields\": {\"k\": "
                "{\"enum\": [\"a\"]}}}}, \"orders\": {\"command\": [\"x\"], \"timeoutSeconds\": "
                "0}}}",
                "processors.orders.timeoutSeconds");
    /* the file's shape */
    check_error("{\"processors\": []}", "processors");
    check_error("{\"processors\": \"machines\"}", "processors");
    check_error("[]", "processors");
    /* broken JSON: where */
    check_error("{\"processors\": {\n  \"orders\": {\"command\": [\"x\"]},\n  \"x\": }\n}",
                "line 3", "column");
    check_error("{\"processors\": {\"a\": {\"command\": [\"x\"]}, \"a\": {\"command\": [\"y\"]}}}",
                "line 1");
    check_error("", "line");
}

static void test_error_names_the_given_file(void **state)
{
    (void)state;
    struct sl_procconf pc;
    struct sl_error err = {0};
    check_rc(sl_procconf_parse("{\"processors\": {\"x\": {}}}", "/srv/app/sluice.json", &pc, &err),
             SL_ECONFIG, &err);
    check_contains(err.msg, "/srv/app/sluice.json");
    check_contains(err.msg, "processors.x");
    sl_procconf_fini(&pc);
}

/* ---------------------------------------------------------------------------------------------
 * Loading
 */

static void test_load(void **state)
{
    (void)state;
    char dir[256], path[512];
    struct sl_procconf pc;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);

    /* a missing file is an empty configuration */
    snprintf(path, sizeof path, "%s/sluice.json", dir);
    check_rc(sl_procconf_load(path, &pc, &err), 0, &err);
    check_i64(pc.count, 0);
    sl_procconf_fini(&pc);

    /* the example from a file */
    sl_test_write_text(path, example);
    check_rc(sl_procconf_load(path, &pc, &err), 0, &err);
    check_i64(pc.count, 2);
    assert_non_null(entry(&pc, "machines"));
    assert_non_null(entry(&pc, "orders"));
    sl_procconf_fini(&pc);

    /* a broken file: the message names the file and the line */
    sl_test_write_text(path, "{\"processors\": {\n\"orders\": {\"command\": [\"x\",]}}}\n");
    check_rc(sl_procconf_load(path, &pc, &err), SL_ECONFIG, &err);
    check_contains(err.msg, "sluice.json");
    check_contains(err.msg, "line 2");
    check_i64(pc.count, 0);
    sl_procconf_fini(&pc);

    /* a mistake in a file names the place */
    sl_test_write_text(path,
                       "{\"processors\": {\"orders\": {\"command\": [], \"timeoutSeconds\": 5}}}");
    check_rc(sl_procconf_load(path, &pc, &err), SL_ECONFIG, &err);
    check_contains(err.msg, "sluice.json");
    check_contains(err.msg, "processors.orders.command");
    sl_procconf_fini(&pc);

    /* a folder where the file should be is an error, not an empty configuration */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/folder.json", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    int rc = sl_procconf_load(sub, &pc, &err);
    sl_procconf_fini(&pc);
    if (rc == 0)
        fail_msg("loading a folder as sluice.json succeeded");
}

/* ---------------------------------------------------------------------------------------------
 * Registering
 */

static void check_registered_at(int line, const struct sl_processors *p, const char *type,
                                sl_processor_fn want_fn, const void *want_arg)
{
    const void *arg = (const void *)&arg; /* must be overwritten */
    sl_processor_fn fn = sl_processors_find(p, type, &arg);
    if (fn != want_fn)
        fail_msg("line %d: type '%s' has processor %p, expected %p", line, type,
                 (void *)(uintptr_t)fn, (void *)(uintptr_t)want_fn);
    if (want_fn && arg != want_arg)
        fail_msg("line %d: type '%s' has argument %p, expected %p", line, type, arg, want_arg);
}
#define check_registered(p, type, fn, arg) check_registered_at(__LINE__, p, type, fn, arg)

static void test_register(void **state)
{
    (void)state;
    struct sl_procconf pc;
    struct sl_processors p;
    struct sl_error err = {0};
    check_rc(sl_procconf_parse(example, "sluice.json", &pc, &err), 0, &err);
    sl_processors_init(&p);
    assert_int_equal(sl_procconf_register(&pc, &p), 0);

    /* the built-in imports, without a schema */
    check_registered(&p, "csv", sl_proc_import, NULL);
    check_registered(&p, "sheet", sl_proc_import, NULL);
    check_registered(&p, "json", sl_proc_import, NULL);
    check_registered(&p, "ndjson", sl_proc_import, NULL);
    /* the built-in file check stays */
    check_registered(&p, "file", sl_proc_file, NULL);
    /* the configured types, with pointers into the configuration */
    check_registered(&p, "machines", sl_proc_import, &entry(&pc, "machines")->schema);
    check_registered(&p, "orders", sl_proc_command, &entry(&pc, "orders")->command);
    /* nothing else */
    check_registered(&p, "xlsx", NULL, NULL);
    check_registered(&p, "Machines", NULL, NULL);
    check_registered(&p, "unknown", NULL, NULL);
    sl_procconf_fini(&pc);

    /* an empty configuration registers the built-in imports only */
    check_rc(sl_procconf_parse("{}", "sluice.json", &pc, &err), 0, &err);
    sl_processors_init(&p);
    int before = p.count;
    assert_int_equal(sl_procconf_register(&pc, &p), 0);
    check_registered(&p, "csv", sl_proc_import, NULL);
    check_registered(&p, "ndjson", sl_proc_import, NULL);
    check_registered(&p, "file", sl_proc_file, NULL);
    check_registered(&p, "machines", NULL, NULL);
    check_i64(p.count, before); /* csv, sheet, json, ndjson were replaced, not added */
    sl_procconf_fini(&pc);
}

static void test_register_replaces_builtins(void **state)
{
    (void)state;
    struct sl_procconf pc;
    struct sl_processors p;
    struct sl_error err = {0};
    check_rc(sl_procconf_parse("{\"processors\": {"
                               "\"csv\": {\"import\": {\"key\": \"id\"}},"
                               "\"json\": {\"command\": [\"/bin/cat\"]},"
                               "\"file\": {\"command\": [\"/bin/true\"]}}}",
                               "sluice.json", &pc, &err),
             0, &err);
    sl_processors_init(&p);
    assert_int_equal(sl_procconf_register(&pc, &p), 0);
    check_registered(&p, "csv", sl_proc_import, &entry(&pc, "csv")->schema);
    check_str(((const struct sl_schema *)&entry(&pc, "csv")->schema)->key, "id");
    check_registered(&p, "json", sl_proc_command, &entry(&pc, "json")->command);
    check_registered(&p, "file", sl_proc_command, &entry(&pc, "file")->command);
    check_registered(&p, "sheet", sl_proc_import, NULL);
    check_registered(&p, "ndjson", sl_proc_import, NULL);
    sl_procconf_fini(&pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_contract_example),
        cmocka_unit_test(test_parse_valid_variants),
        cmocka_unit_test(test_parse_errors_name_the_place),
        cmocka_unit_test(test_error_names_the_given_file),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_register),
        cmocka_unit_test(test_register_replaces_builtins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
