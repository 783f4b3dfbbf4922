/*
 * readrows: reads a file through sluice's row readers and counts rows and fields; the
 * "parsing alone" side of the import benchmark. Prints: rows fields seconds maxrss_kb.
 */
#include "import/reader.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    long long rows = 0, fields = 0;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: readrows FILE\n");
        return 2;
    }
    int64_t t0 = sl_mono_us();
    if ((rc = sl_reader_open(argv[1], argv[1], &r, &err)) != 0) {
        fprintf(stderr, "readrows: %s\n", err.msg);
        return 1;
    }
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        rows++;
        fields += (long long)row.count;
    }
    sl_reader_close(r);
    if (rc < 0) {
        fprintf(stderr, "readrows: %s\n", err.msg);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%lld %lld %.3f %ld\n", rows, fields, (double)(sl_mono_us() - t0) / 1e6, ru.ru_maxrss);
    return 0;
}
