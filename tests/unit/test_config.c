/*
 * test_config: defaults, the precedence of the process environment over `.env.local` over
 * `.env`, and the rejection of bad values (src/util/config.h).
 *
 * Each test clears every variable config reads before it starts and again when it ends, so the
 * caller's environment never leaks in and no test leaks into the next.
 */
#include "testutil.h"

#include "util/config.h"
#include "util/err.h"

static const char *const vars[] = {"PORT",
                                   "HOST",
                                   "CRON_SECRET",
                                   "SLUICE_DATA_DIR",
                                   "DATABASE_URL",
                                   "SLUICE_BLOB_URL",
                                   "SLUICE_BATCH_SIZE",
                                   "SLUICE_MAX_ATTEMPTS",
                                   "SLUICE_MAX_UPLOAD_BYTES",
                                   "SLUICE_MAX_FILES",
                                   "SLUICE_JOB_TIMEOUT_SECONDS",
                                   "SLUICE_RETRY_BASE_MS",
                                   "SLUICE_RETRY_MAX_MS",
                                   "SLUICE_SHUTDOWN_GRACE_SECONDS",
                                   "SLUICE_WORKER",
                                   "SLUICE_TEST_PROCESS_DELAY_MS",
                                   "SLUICE_API_TOKEN",
                                   "SLUICE_CRON_ALLOW",
                                   "SLUICE_UPLOAD_RATE",
                                   "SLUICE_UPLOAD_BURST",
                                   "SLUICE_MAX_CONNECTIONS",
                                   "SLUICE_CONNECTION_TIMEOUT_SECONDS"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sl_test_write_text(path, text);
}

static void test_upload_burst_defaults_to_twice_the_rate(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    setenv("SLUICE_UPLOAD_RATE", "5", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_i64(cfg.upload_rate, 5);
    check_i64(cfg.upload_burst, 10);
    sl_config_fini(&cfg);
    setenv("SLUICE_UPLOAD_BURST", "3", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_i64(cfg.upload_burst, 3);
    sl_config_fini(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_i64(cfg.port, 3000);
    check_str(cfg.host, "127.0.0.1");
    assert_null(cfg.cron_secret);
    check_str(cfg.data_dir, "./data");
    check_str(cfg.database_url, "sqlite:./data/sluice.db");
    check_str(cfg.blob_url, "file:./data/blobs");
    check_i64(cfg.batch_size, 5);
    check_i64(cfg.max_attempts, 3);
    check_i64(cfg.max_upload_bytes, 1073741824LL);
    check_i64(cfg.job_timeout_s, 300);
    check_i64(cfg.continuous, 0);
    assert_null(cfg.api_token);
    assert_null(cfg.cron_allow);
    check_i64(cfg.upload_rate, 0);
    check_i64(cfg.upload_burst, 1);
    check_i64(cfg.max_connections, 512);
    check_i64(cfg.connection_timeout_s, 120);
    assert_true(cfg.max_files >= 1);
    assert_true(cfg.retry_max_ms >= cfg.retry_base_ms);
    sl_config_fini(&cfg);
}

/* NULL as dir means the working directory; it holds no dotenv files here. */
static void test_defaults_from_working_directory(void **state)
{
    (void)state;
    struct sl_config cfg;
    struct sl_error err = {0};
    check_rc(sl_config_load(&cfg, NULL, &err), 0, &err);
    check_i64(cfg.port, 3000);
    check_str(cfg.database_url, "sqlite:./data/sluice.db");
    sl_config_fini(&cfg);
}

static void test_precedence(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    write_file(dir, ".env",
               "PORT=4001\nHOST=10.0.0.1\nSLUICE_BATCH_SIZE=7\nSLUICE_MAX_ATTEMPTS=4\n"
               "CRON_SECRET=from-env-file\n");
    write_file(dir, ".env.local", "PORT=4002\nSLUICE_BATCH_SIZE=8\nCRON_SECRET=from-local\n");
    setenv("SLUICE_BATCH_SIZE", "9", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_i64(cfg.batch_size, 9);             /* process environment */
    check_i64(cfg.port, 4002);                /* .env.local over .env */
    check_str(cfg.cron_secret, "from-local"); /* .env.local over .env */
    check_str(cfg.host, "10.0.0.1");          /* only in .env */
    check_i64(cfg.max_attempts, 4);           /* only in .env */
    check_i64(cfg.job_timeout_s, 300);        /* nowhere: default */
    sl_config_fini(&cfg);
}

static void test_process_env_over_both_files(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    write_file(dir, ".env", "HOST=10.0.0.1\nSLUICE_WORKER=cron\n");
    write_file(dir, ".env.local", "HOST=10.0.0.2\n");
    setenv("HOST", "0.0.0.0", 1);
    setenv("SLUICE_WORKER", "continuous", 1);
    setenv("CRON_SECRET", "s3cret", 1);
    setenv("SLUICE_MAX_UPLOAD_BYTES", "1048576", 1);
    setenv("SLUICE_JOB_TIMEOUT_SECONDS", "60", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_str(cfg.host, "0.0.0.0");
    check_i64(cfg.continuous, 1);
    check_str(cfg.cron_secret, "s3cret");
    check_i64(cfg.max_upload_bytes, 1048576);
    check_i64(cfg.job_timeout_s, 60);
    sl_config_fini(&cfg);
}

/* The default store and blob URLs follow SLUICE_DATA_DIR; explicit URLs win over it. */
static void test_data_dir_and_urls(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    write_file(dir, ".env", "SLUICE_DATA_DIR=/var/lib/sluice\n");
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_str(cfg.data_dir, "/var/lib/sluice");
    check_str(cfg.database_url, "sqlite:/var/lib/sluice/sluice.db");
    check_str(cfg.blob_url, "file:/var/lib/sluice/blobs");
    sl_config_fini(&cfg);

    setenv("DATABASE_URL", "postgres://user:pw@db:5432/sluice", 1);
    setenv("SLUICE_BLOB_URL", "s3://bucket/prefix", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_str(cfg.database_url, "postgres://user:pw@db:5432/sluice");
    check_str(cfg.blob_url, "s3://bucket/prefix");
    sl_config_fini(&cfg);
}

/* Loads with one variable set to a bad value and expects SL_ECONFIG naming it. */
static void check_invalid(const char *dir, const char *name, const char *value)
{
    struct sl_config cfg;
    struct sl_error err = {0};
    memset(&cfg, 0xa5, sizeof cfg); /* the load must clear what it does not fill */
    setenv(name, value, 1);
    int rc = sl_config_load(&cfg, dir, &err);
    unsetenv(name);
    if (rc != SL_ECONFIG)
        fail_msg("%s=%s: sl_config_load returned %d (%s), expected invalid_config", name, value, rc,
                 sl_err_code(rc));
    if (!strstr(err.msg, name))
        fail_msg("%s=%s: message '%s' does not name the variable", name, value, err.msg);
    /* On failure nothing is left behind (style rule 4). */
    assert_null(cfg.host);
    assert_null(cfg.database_url);
    assert_null(cfg.blob_url);
    assert_null(cfg.data_dir);
}

static void test_invalid_values(void **state)
{
    (void)state;
    char dir[256];
    sl_test_tmpdir(dir);
    check_invalid(dir, "PORT", "99999");
    check_invalid(dir, "PORT", "-1");
    check_invalid(dir, "PORT", "80x");
    check_invalid(dir, "SLUICE_BATCH_SIZE", "0");
    check_invalid(dir, "SLUICE_BATCH_SIZE", "abc");
    check_invalid(dir, "SLUICE_BATCH_SIZE", "101");
    check_invalid(dir, "SLUICE_MAX_ATTEMPTS", "0");
    check_invalid(dir, "SLUICE_MAX_UPLOAD_BYTES", "lots");
    check_invalid(dir, "SLUICE_JOB_TIMEOUT_SECONDS", "0");
    check_invalid(dir, "SLUICE_WORKER", "bogus");
    check_invalid(dir, "DATABASE_URL", "mysql://x");
    check_invalid(dir, "SLUICE_BLOB_URL", "ftp://x");
}

/* A bad value read from a dotenv file is rejected the same way. */
static void test_invalid_value_in_dotenv(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    write_file(dir, ".env", "PORT=99999\n");
    int rc = sl_config_load(&cfg, dir, &err);
    check_rc(rc, SL_ECONFIG, &err);
    if (!strstr(err.msg, "PORT"))
        fail_msg("message '%s' does not name PORT", err.msg);

    /* The process environment overrides the bad file value, so the load succeeds. */
    setenv("PORT", "8080", 1);
    check_rc(sl_config_load(&cfg, dir, &err), 0, &err);
    check_i64(cfg.port, 8080);
    sl_config_fini(&cfg);
}

/* A syntax error in a dotenv file fails the load with the file named. */
static void test_broken_dotenv_file(void **state)
{
    (void)state;
    char dir[256];
    struct sl_config cfg;
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    write_file(dir, ".env.local", "PORT=4000\nthis is not an assignment\n");
    int rc = sl_config_load(&cfg, dir, &err);
    check_rc(rc, SL_ECONFIG, &err);
    if (!strstr(err.msg, ".env.local"))
        fail_msg("message '%s' does not name .env.local", err.msg);
    assert_null(cfg.host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_burst_defaults_to_twice_the_rate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_defaults_from_working_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_env_over_both_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_dir_and_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_value_in_dotenv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_dotenv_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
