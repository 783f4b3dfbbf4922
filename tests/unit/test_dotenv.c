/*
 * test_dotenv: the `.env` syntax, its errors, and loading from files (src/util/dotenv.h).
 */
#include "testutil.h"

#include "util/dotenv.h"
#include "util/err.h"

static void check_value(const struct sl_dotenv *env, const char *key, const char *want)
{
    const char *got = sl_dotenv_get(env, key);
    if (!want && got)
        fail_msg("%s is '%s', expected unset", key, got);
    if (want && !got)
        fail_msg("%s is unset, expected '%s'", key, want);
    if (want && strcmp(got, want) != 0)
        fail_msg("%s is '%s', expected '%s'", key, got, want);
}

/* 1 when msg names the line number n after the file name (as "name:n" or "name, line n"). */
static int names_line(const char *msg, const char *name, int n)
{
    const char *p = strstr(msg, name);
    if (!p)
        return 0;
    for (p += strlen(name); *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        char *end;
        long v = strtol(p, &end, 10);
        if (v == n)
            return 1;
        p = end - 1;
    }
    return 0;
}

static void test_comments_blank_export(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    const char *text = "# a comment\n"
                       "\n"
                       "   \n"
                       "   # an indented comment\n"
                       "A=1\n"
                       "export B=two\n"
                       "\t\n"
                       "_C9=x\n";
    check_rc(sl_dotenv_parse(&env, text, "test.env", &err), 0, &err);
    check_value(&env, "A", "1");
    check_value(&env, "B", "two");
    check_value(&env, "_C9", "x");
    check_value(&env, "export B", NULL);
    check_value(&env, "#", NULL);
    check_value(&env, "D", NULL);
    assert_int_equal(env.count, 3);
    sl_dotenv_fini(&env);
    assert_int_equal(env.count, 0);
}

static void test_only_comments_is_empty(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    check_rc(sl_dotenv_parse(&env, "# nothing\n\n# here\n", "empty.env", &err), 0, &err);
    assert_int_equal(env.count, 0);
    check_value(&env, "nothing", NULL);
    sl_dotenv_fini(&env);

    check_rc(sl_dotenv_parse(&env, "", "empty.env", &err), 0, &err);
    assert_int_equal(env.count, 0);
    sl_dotenv_fini(&env);
}

static void test_bare_values(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    const char *text = "PLAIN=hello world\n"
                       "TRAIL=value   \n"
                       "COMMENTED=value # a comment\n"
                       "TABCOMMENT=value\t# a comment\n"
                       "HASH=a#b\n"
                       "URL=postgres://u:p@h:5432/db?x=1\n"
                       "EMPTY=\n"
                       "EQUALS=a=b=c\n"
                       "LAST=no newline at end";
    check_rc(sl_dotenv_parse(&env, text, "bare.env", &err), 0, &err);
    check_value(&env, "PLAIN", "hello world");
    check_value(&env, "TRAIL", "value");
    check_value(&env, "COMMENTED", "value");
    check_value(&env, "TABCOMMENT", "value");
    check_value(&env, "HASH", "a#b");
    check_value(&env, "URL", "postgres://u:p@h:5432/db?x=1");
    check_value(&env, "EMPTY", "");
    check_value(&env, "EQUALS", "a=b=c");
    check_value(&env, "LAST", "no newline at end");
    sl_dotenv_fini(&env);
}

static void test_quotes(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    const char *text = "SINGLE='a\\nb $HOME # not a comment \"x\"'\n"
                       "DOUBLE=\"line1\\nline2\\tTab \\\"quoted\\\" back\\\\slash\"\n"
                       "ESCQ=\"say \\\"hi\\\"\"\n"
                       "DCOMMENT=\"has # inside\" # and a comment after\n"
                       "SPACES='  padded  '\n"
                       "EMPTYQ=\"\"\n"
                       "EMPTYS=''\n";
    check_rc(sl_dotenv_parse(&env, text, "quotes.env", &err), 0, &err);
    check_value(&env, "SINGLE", "a\\nb $HOME # not a comment \"x\"");
    check_value(&env, "DOUBLE", "line1\nline2\tTab \"quoted\" back\\slash");
    check_value(&env, "ESCQ", "say \"hi\"");
    check_value(&env, "DCOMMENT", "has # inside");
    check_value(&env, "SPACES", "  padded  ");
    check_value(&env, "EMPTYQ", "");
    check_value(&env, "EMPTYS", "");
    sl_dotenv_fini(&env);
}

static void test_crlf_lines(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    const char *text = "# windows\r\n"
                       "\r\n"
                       "A=one\r\n"
                       "B=\"two\"\r\n"
                       "C='three'\r\n"
                       "D=four # c\r\n";
    check_rc(sl_dotenv_parse(&env, text, "crlf.env", &err), 0, &err);
    check_value(&env, "A", "one");
    check_value(&env, "B", "two");
    check_value(&env, "C", "three");
    check_value(&env, "D", "four");
    sl_dotenv_fini(&env);
}

static void test_last_assignment_wins(void **state)
{
    (void)state;
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    check_rc(sl_dotenv_parse(&env, "K=first\nOTHER=o\nK=second\nexport K=third\n", "dup.env", &err),
             0, &err);
    check_value(&env, "K", "third");
    check_value(&env, "OTHER", "o");
    sl_dotenv_fini(&env);
}

static void check_parse_error(const char *text, int line)
{
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    int rc = sl_dotenv_parse(&env, text, "settings.env", &err);
    if (rc != SL_ECONFIG)
        fail_msg("parsing '%s' returned %d (%s), expected invalid_config", text, rc,
                 sl_err_code(rc));
    if (!names_line(err.msg, "settings.env", line))
        fail_msg("message '%s' does not name settings.env line %d", err.msg, line);
    sl_dotenv_fini(&env);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    check_parse_error("=nokey\n", 1);
    check_parse_error("# c\nA=1\n\n=nokey\n", 4);
    check_parse_error("A=1\nKEY value\n", 2);
    check_parse_error("A=1\nB=2\nC=3\nKEY=\"unterminated\nD=4\n", 4);
    check_parse_error("KEY='unterminated\n", 1);
    check_parse_error("A=1\r\nB=2\r\n1KEY=x\r\n", 3); /* keys start with a letter or _ */
    check_parse_error("A=1\nBAD-KEY=x\n", 2);
    check_parse_error("A=1\n\n\n\n\n\n\n\n\n\n\n\nJUSTAWORD\n", 13);
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/.env", dir);
    sl_test_write_text(path,
                       "# file\r\nexport PORT=4000\r\nHOST='0.0.0.0'\r\nPORT=4001 # later\r\n");
    check_rc(sl_dotenv_load(&env, path, &err), 0, &err);
    check_value(&env, "PORT", "4001");
    check_value(&env, "HOST", "0.0.0.0");
    sl_dotenv_fini(&env);
}

static void test_load_missing_file_is_empty(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/.env.missing", dir);
    check_rc(sl_dotenv_load(&env, path, &err), 0, &err);
    assert_int_equal(env.count, 0);
    check_value(&env, "PORT", NULL);
    sl_dotenv_fini(&env);
}

static void test_load_error_names_path_and_line(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/.env.local", dir);
    sl_test_write_text(path, "A=1\n# two\nB='open\n");
    int rc = sl_dotenv_load(&env, path, &err);
    check_rc(rc, SL_ECONFIG, &err);
    if (!names_line(err.msg, ".env.local", 3))
        fail_msg("message '%s' does not name %s line 3", err.msg, path);
    sl_dotenv_fini(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comments_blank_export),
        cmocka_unit_test(test_only_comments_is_empty),
        cmocka_unit_test(test_bare_values),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_crlf_lines),
        cmocka_unit_test(test_last_assignment_wins),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_missing_file_is_empty),
        cmocka_unit_test(test_load_error_names_path_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
