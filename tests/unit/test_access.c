/*
 * test_access: the pieces of http/access.h: token bucket arithmetic on an injected clock, CIDR
 * parsing and matching (IPv4, IPv6, v4-mapped), the allow-list parser's messages, the
 * constant-time compare, and the rate table's per-address buckets.
 */
#include "testutil.h"

#include "http/access.h"
#include "util/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void key_of(const char *text, unsigned char key[16])
{
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    assert_int_equal(sl_addr_key((struct sockaddr *)&ss, key), 0);
}

static int matches(const char *rule, const char *addr)
{
    struct sl_cidr c;
    unsigned char key[16];
    assert_int_equal(sl_cidr_parse(rule, &c), 0);
    key_of(addr, key);
    return sl_cidr_match(&c, key);
}

static void test_bucket_burst_then_refill(void **state)
{
    (void)state;
    struct sl_bucket b;
    sl_bucket_init(&b, 3, 1000);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1000), 0);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1000), 0);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1000), 0);
    /* Empty: one token at 2/s is 500 ms away. */
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1000), 500);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1200), 300);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1500), 0);
    assert_int_equal(sl_bucket_take(&b, 2, 3, 1500), 500);
}

static void test_bucket_caps_at_burst(void **state)
{
    (void)state;
    struct sl_bucket b;
    sl_bucket_init(&b, 2, 0);
    assert_int_equal(sl_bucket_take(&b, 1, 2, 0), 0);
    /* An hour idle refills to the burst, no more. */
    int64_t t = 3600 * 1000;
    assert_int_equal(sl_bucket_take(&b, 1, 2, t), 0);
    assert_int_equal(sl_bucket_take(&b, 1, 2, t), 0);
    assert_int_equal(sl_bucket_take(&b, 1, 2, t), 1000);
}

static void test_bucket_clock_going_back_refills_nothing(void **state)
{
    (void)state;
    struct sl_bucket b;
    sl_bucket_init(&b, 1, 5000);
    assert_int_equal(sl_bucket_take(&b, 1, 1, 5000), 0);
    assert_int_equal(sl_bucket_take(&b, 1, 1, 1000), 1000);
    assert_int_equal(sl_bucket_take(&b, 1, 1, 5999), 1);
    assert_int_equal(sl_bucket_take(&b, 1, 1, 6000), 0);
}

static void test_cidr_ipv4(void **state)
{
    (void)state;
    assert_true(matches("10.0.0.0/8", "10.200.3.4"));
    assert_false(matches("10.0.0.0/8", "11.0.0.1"));
    assert_true(matches("127.0.0.1/32", "127.0.0.1"));
    assert_false(matches("127.0.0.1/32", "127.0.0.2"));
    assert_true(matches("192.168.1.130/25", "192.168.1.200")); /* host bits are masked */
    assert_false(matches("192.168.1.128/25", "192.168.1.127"));
    assert_true(matches("0.0.0.0/0", "8.8.8.8"));
    assert_true(matches("8.8.8.8", "8.8.8.8")); /* a bare address is a host rule */
    assert_false(matches("10.0.0.0/8", "::1"));
}

static void test_cidr_ipv6_and_v4_mapped(void **state)
{
    (void)state;
    assert_true(matches("::1/128", "::1"));
    assert_false(matches("::1/128", "::2"));
    assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(matches("2001:db8::/32", "2001:db9::1"));
    assert_true(matches("fe80::/10", "febf::1"));
    assert_false(matches("fe80::/10", "fec0::1"));
    /* A v4-mapped client matches an IPv4 rule, and a v4-mapped rule an IPv4 client. */
    assert_true(matches("10.0.0.0/8", "::ffff:10.1.2.3"));
    assert_false(matches("10.0.0.0/8", "::ffff:11.1.2.3"));
    assert_true(matches("::ffff:127.0.0.0/104", "127.0.0.1"));
    assert_true(matches("::/0", "10.0.0.1"));
}

static void test_cidr_rejects_bad_text(void **state)
{
    (void)state;
    struct sl_cidr c;
    const char *bad[] = {"",
                         "/8",
                         "10.0.0.0/",
                         "10.0.0.0/33",
                         "::1/129",
                         "10.0.0/8",
                         "10.0.0.0/8x",
                         "10.0.0.0/-1",
                         "host.example",
                         "1::2::3",
                         "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sl_cidr_parse(bad[i], &c), SL_EINVALID);
}

static void test_cidr_list(void **state)
{
    (void)state;
    struct sl_cidr *list = NULL;
    size_t n = 0;
    struct sl_error err = {0};
    check_rc(sl_cidr_list_parse("127.0.0.1/32, 10.0.0.0/8 ,::1/128", "SLUICE_CRON_ALLOW", &list, &n,
                                &err),
             0, &err);
    assert_int_equal(n, 3);
    assert_int_equal(list[1].prefix, 104);
    free(list);
    check_rc(sl_cidr_list_parse("10.0.0.0/8,nope/3", "SLUICE_CRON_ALLOW", &list, &n, &err),
             SL_ECONFIG, &err);
    assert_null(list);
    assert_non_null(strstr(err.msg, "SLUICE_CRON_ALLOW"));
    assert_non_null(strstr(err.msg, "'nope/3'"));
    check_rc(sl_cidr_list_parse("10.0.0.0/8,", "X", &list, &n, &err), SL_ECONFIG, &err);
    check_rc(sl_cidr_list_parse("", "X", &list, &n, &err), SL_ECONFIG, &err);
}

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(sl_secret_equal("abc", "abc"));
    assert_true(sl_secret_equal("", ""));
    assert_false(sl_secret_equal("abd", "abc"));
    assert_false(sl_secret_equal("ab", "abc"));
    assert_false(sl_secret_equal("abcd", "abc"));
    assert_false(sl_secret_equal("", "abc"));
    assert_false(sl_secret_equal("abc", ""));
    assert_false(sl_secret_equal("Abc", "abc"));
}

static void test_rate_table_is_per_address(void **state)
{
    (void)state;
    struct sl_config cfg = {.upload_rate = 1, .upload_burst = 1};
    struct sl_access *a = NULL;
    struct sl_error err = {0};
    unsigned char k1[16], k2[16];
    check_rc(sl_access_new(&cfg, &a, &err), 0, &err);
    key_of("10.0.0.1", k1);
    key_of("2001:db8::1", k2);
    assert_int_equal(sl_access_rate_take(a, k1, 0), 0);
    assert_int_equal(sl_access_rate_take(a, k1, 0), 1000);
    assert_int_equal(sl_access_rate_take(a, k2, 0), 0);
    assert_int_equal(sl_access_rate_take(a, k1, 1000), 0);
    /* Many more addresses than slots: the table stays bounded and keeps working. */
    for (uint32_t i = 0; i < 3 * SL_RATE_SLOTS; i++) {
        unsigned char k[16] = {0};
        memcpy(k, &i, sizeof i);
        assert_int_equal(sl_access_rate_take(a, k, 2000), 0);
    }
    sl_access_free(a);
}

static void test_rate_off_by_default(void **state)
{
    (void)state;
    struct sl_config cfg = {.upload_rate = 0, .upload_burst = 1};
    struct sl_access *a = NULL;
    unsigned char k[16];
    struct sl_error err = {0};
    check_rc(sl_access_new(&cfg, &a, &err), 0, &err);
    key_of("10.0.0.1", k);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sl_access_rate_take(a, k, 0), 0);
    sl_access_free(a);
}

static void test_access_new_rejects_bad_allow_list(void **state)
{
    (void)state;
    struct sl_config cfg = {.cron_allow = "10.0.0.0/8,10.0.0.0/99"};
    struct sl_access *a = (struct sl_access *)1;
    struct sl_error err = {0};
    check_rc(sl_access_new(&cfg, &a, &err), SL_ECONFIG, &err);
    assert_null(a);
    assert_non_null(strstr(err.msg, "'10.0.0.0/99'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_burst_then_refill),
        cmocka_unit_test(test_bucket_caps_at_burst),
        cmocka_unit_test(test_bucket_clock_going_back_refills_nothing),
        cmocka_unit_test(test_cidr_ipv4),
        cmocka_unit_test(test_cidr_ipv6_and_v4_mapped),
        cmocka_unit_test(test_cidr_rejects_bad_text),
        cmocka_unit_test(test_cidr_list),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_rate_table_is_per_address),
        cmocka_unit_test(test_rate_off_by_default),
        cmocka_unit_test(test_access_new_rejects_bad_allow_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
