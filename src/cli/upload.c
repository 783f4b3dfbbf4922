/* `sluice upload`: sends files to a running server with libcurl and prints the job ids. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESPONSE_MAX (4 << 20)

struct buffer {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t n, void *userdata)
{
    struct buffer *b = userdata;
    size_t add = size * n;
    if (b->len + add > RESPONSE_MAX)
        return 0;
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, add);
    b->data = grown;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* Prints the job ids of a 202 answer, or the error it carries. */
static int report(long status, const struct buffer *b)
{
    json_t *o = b->data ? json_loads(b->data, 0, NULL) : NULL;
    int rc = SL_EXIT_OK;
    if (status == 202 && json_is_array(json_object_get(o, "jobIds"))) {
        size_t i;
        json_t *id;
        json_array_foreach(json_object_get(o, "jobIds"), i, id) puts(json_string_value(id));
    } else {
        const char *msg =
            json_string_value(json_object_get(json_object_get(o, "error"), "message"));
        rc = sl_cli_fail("upload failed with HTTP %ld: %s", status, msg ? msg : "no error message");
    }
    json_decref(o);
    return rc;
}

static void add_field(curl_mime *mime, const char *name, const char *value)
{
    if (!value)
        return;
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, name);
    curl_mime_data(part, value, CURL_ZERO_TERMINATED);
}

static int send_files(const char *url, const char *type, const char *tenant, char **files,
                      int count)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return sl_cli_fail("cannot start libcurl");
    curl_mime *mime = curl_mime_init(curl);
    struct buffer b = {0};
    for (int i = 0; i < count; i++) {
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "files");
        curl_mime_filedata(part, files[i]);
    }
    add_field(mime, "type", type);
    add_field(mime, "tenant", tenant);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice-cli/" SL_VERSION);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    int rc;
    if (cc != CURLE_OK) {
        rc = sl_cli_fail("cannot upload to %s: %s", url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        rc = report(status, &b);
    }
    free(b.data);
    curl_mime_free(mime);
    curl_easy_cleanup(curl);
    return rc;
}

int sl_cmd_upload(int argc, char **argv)
{
    static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
                                             {"type", required_argument, NULL, 't'},
                                             {"tenant", required_argument, NULL, 'T'},
                                             {NULL, 0, NULL, 0}};
    const char *server = NULL, *type = NULL, *tenant = NULL;
    char url[2048];
    int c;

    if (sl_cli_wants_help(argc, argv, "upload"))
        return SL_EXIT_OK;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 's')
            server = optarg;
        else if (c == 't')
            type = optarg;
        else if (c == 'T')
            tenant = optarg;
        else
            return sl_cli_usage("upload", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind == argc)
        return sl_cli_usage("upload", "name at least one file");
    for (int i = optind; i < argc; i++)
        if (access(argv[i], R_OK) != 0)
            return sl_cli_fail("cannot read '%s'", argv[i]);
    if (!server) {
        struct sl_config cfg;
        if (sl_cli_config(&cfg) != SL_EXIT_OK)
            return SL_EXIT_FAIL;
        snprintf(url, sizeof url, "http://%s:%d/api/integration/upload", cfg.host, cfg.port);
        sl_config_fini(&cfg);
    } else {
        size_t n = strlen(server);
        while (n > 0 && server[n - 1] == '/')
            n--;
        snprintf(url, sizeof url, "%.*s/api/integration/upload", (int)(n < 1900 ? n : 1900),
                 server);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = send_files(url, type, tenant, argv + optind, argc - optind);
    curl_global_cleanup();
    return rc;
}
