#include "http/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 5

void sl_http_client_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void sl_http_client_cleanup(void)
{
    curl_global_cleanup();
}

static size_t drop(char *ptr, size_t size, size_t n, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * n;
}

int sl_http_cron_get(const char *url, const char *secret, struct sl_error *err)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char auth[1024];
    long status = 0;
    int rc;

    if (!curl)
        return sl_err_set(err, SL_ENOMEM, "cannot start libcurl");
    if (secret) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", secret);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sluice-cron/1.0");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, drop);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = sl_err_set(err, SL_EIO, "cron call to %s failed: %s", url, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        rc = (int)status;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

void sl_http_local_base(const char *host, int port, char *out, size_t cap)
{
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    if (strchr(host, ':'))
        snprintf(out, cap, "http://[%s]:%d", host, port);
    else
        snprintf(out, cap, "http://%s:%d", host, port);
}
