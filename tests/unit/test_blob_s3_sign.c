/*
 * test_blob_s3_sign: the SigV4 signer of the S3 blob store (src/blob/s3_sign.h)
 * against the worked examples of AWS's documentation ("Signature Calculations
 * for the Authorization Header: Transferring Payload in a Single Chunk", Amazon
 * S3 API Reference): bucket examplebucket, access key AKIAIOSFODNN7EXAMPLE,
 * secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z, us-east-1.
 * The expected strings below are AWS's published ones, copied, not computed
 * here.
 */
#include "testutil.h"

#include "blob/s3_sign.h"

#define EX_ACCESS "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EX_DATE   "20130524T000000Z"
#define EX_HOST   "examplebucket.s3.amazonaws.com"
#define EX_SCOPE  "20130524/us-east-1/s3/aws4_request"

static struct sl_s3_sign_input example(const char *method, const char *uri, const char *query,
                                       const struct sl_s3_header *hs, size_t n, const char *hash)
{
    struct sl_s3_sign_input in = {
        .method = method,
        .uri = uri,
        .query = query,
        .headers = hs,
        .n_headers = n,
        .payload_hash = hash,
        .amz_date = EX_DATE,
        .region = "us-east-1",
        .access_key = EX_ACCESS,
        .secret_key = EX_SECRET,
    };
    return in;
}

static void check_text(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("%s is\n---\n%s\n---\nexpected\n---\n%s\n---", what, got, want);
}

/* GET Object: GET /test.txt with Range: bytes=0-9 and an empty payload. */
static void test_get_object_example(void **state)
{
    (void)state;
    /* headers deliberately out of order: sl_s3_sign sorts them */
    const struct sl_s3_header hs[] = {
        {"x-amz-date", EX_DATE},
        {"range", "bytes=0-9"},
        {"host", EX_HOST},
        {"x-amz-content-sha256", SL_S3_EMPTY_SHA256},
    };
    struct sl_s3_sign_input in = example("GET", "/test.txt", "", hs, 4, SL_S3_EMPTY_SHA256);
    struct sl_s3_signature *sig = malloc(sizeof *sig);
    assert_non_null(sig);
    assert_int_equal(sl_s3_sign(&in, sig), 0);
    check_text("canonical request", sig->canonical_request,
               "GET\n"
               "/test.txt\n"
               "\n"
               "host:examplebucket.s3.amazonaws.com\n"
               "range:bytes=0-9\n"
               "x-amz-content-sha256:"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n"
               "\n"
               "host;range;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_text("string to sign", sig->string_to_sign,
               "AWS4-HMAC-SHA256\n"
               "20130524T000000Z\n"
               "20130524/us-east-1/s3/aws4_request\n"
               "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    check_text("signature", sig->signature,
               "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    check_text("Authorization", sig->authorization,
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
               "Signature="
               "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(sig);
}

/* PUT Object: PUT /test$file.text holding "Welcome to Amazon S3." (the key
 * needs encoding). */
static void test_put_object_example(void **state)
{
    (void)state;
    static const char body[] = "Welcome to Amazon S3.";
    char hash[65], uri[64];
    sl_s3_sha256_hex(body, sizeof body - 1, hash);
    check_text("payload hash", hash,
               "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    assert_int_equal(sl_s3_uri_encode("/test$file.text", 1, uri, sizeof uri), 0);
    check_text("canonical URI", uri, "/test%24file.text");
    const struct sl_s3_header hs[] = {
        {"date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"host", EX_HOST},
        {"x-amz-content-sha256", hash},
        {"x-amz-date", EX_DATE},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
    };
    struct sl_s3_sign_input in = example("PUT", uri, "", hs, 5, hash);
    struct sl_s3_signature *sig = malloc(sizeof *sig);
    assert_non_null(sig);
    assert_int_equal(sl_s3_sign(&in, sig), 0);
    check_text("signature", sig->signature,
               "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    free(sig);
}

/* GET Bucket Lifecycle (GET /?lifecycle, a bare query name) and GET Bucket
 * (List Objects). */
static void test_query_examples(void **state)
{
    (void)state;
    const struct sl_s3_header hs[] = {
        {"host", EX_HOST},
        {"x-amz-content-sha256", SL_S3_EMPTY_SHA256},
        {"x-amz-date", EX_DATE},
    };
    struct sl_s3_signature *sig = malloc(sizeof *sig);
    assert_non_null(sig);
    struct sl_s3_sign_input in = example("GET", "/", "lifecycle=", hs, 3, SL_S3_EMPTY_SHA256);
    assert_int_equal(sl_s3_sign(&in, sig), 0);
    check_text("lifecycle signature", sig->signature,
               "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    in = example("GET", "/", "max-keys=2&prefix=J", hs, 3, SL_S3_EMPTY_SHA256);
    assert_int_equal(sl_s3_sign(&in, sig), 0);
    check_text("list objects signature", sig->signature,
               "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    free(sig);
}

static void test_uri_encode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(sl_s3_uri_encode("a b/c~d_e.f-g+h=é", 1, out, sizeof out), 0);
    check_text("encoded", out, "a%20b/c~d_e.f-g%2Bh%3D%C3%A9");
    assert_int_equal(sl_s3_uri_encode("a/b", 0, out, sizeof out), 0);
    check_text("encoded", out, "a%2Fb");
    assert_int_equal(sl_s3_uri_encode("abc/def", 1, out, 8), 0);
    assert_int_equal(sl_s3_uri_encode("abc/defg", 1, out, 8), SL_EINVALID);
    assert_int_equal(sl_s3_uri_encode("ab c", 1, out, 5), SL_EINVALID);
}

static void test_too_many_headers(void **state)
{
    (void)state;
    struct sl_s3_header hs[SL_S3_SIGN_HEADERS_MAX + 1];
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        hs[i] = (struct sl_s3_header){"x-amz-meta-a", "1"};
    struct sl_s3_signature *sig = malloc(sizeof *sig);
    assert_non_null(sig);
    struct sl_s3_sign_input in =
        example("GET", "/", "", hs, SL_S3_SIGN_HEADERS_MAX + 1, SL_S3_EMPTY_SHA256);
    assert_int_equal(sl_s3_sign(&in, sig), SL_EINVALID);
    assert_string_equal(sig->authorization, "");
    free(sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object_example), cmocka_unit_test(test_put_object_example),
        cmocka_unit_test(test_query_examples),     cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_too_many_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
