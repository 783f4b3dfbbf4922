/*
 * s3: the S3-compatible blob backend (SLUICE_BLOB_URL=s3://bucket[/prefix]). A
 * blob is the object <prefix>/<key> in the bucket, addressed path-style
 * (<endpoint>/<bucket>/<prefix>/<key>) so that self-hosted servers (MinIO,
 * s3rver, Ceph) work without wildcard DNS.
 *
 * Settings come from the environment when the store is opened:
 * AWS_ENDPOINT_URL_S3 (default https://s3.<region>.amazonaws.com), AWS_REGION
 * (default us-east-1), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (required),
 * AWS_SESSION_TOKEN (optional). Opening does not touch the network; a wrong
 * bucket or endpoint shows on the first call.
 *
 * - put_file streams the file in one PUT up to 16 MiB, above that in a
 * multipart upload of 8 MiB parts (aborted on failure); S3 answers only once
 * the object is durable. The local file is unlinked on success.
 * - open streams a GET into an unlinked temporary file (O_TMPFILE in
 * $SLUICE_DATA_DIR/tmp, else in $TMPDIR or /tmp) and returns it rewound.
 * - remove is a HEAD (missing: SL_ENOT_FOUND, as blob.h promises; S3's DELETE
 * cannot tell) then a DELETE. A blob removed by someone else between the two
 * counts as removed. Every request is signed with SigV4 by blob/s3_sign.c and
 * retried on 5xx, 429 and SlowDown (3 attempts, exponential backoff). Errors
 * are SL_EBLOB with a sentence naming the cause: refused credentials (403), a
 * missing bucket, an unreachable endpoint.
 *
 * Thread rules: any number of threads at once; each call uses its own curl
 * handle.
 */
#ifndef SL_BLOB_S3_H
#define SL_BLOB_S3_H

#include "blob/blob.h"

/* Opens the store that spec ("bucket[/prefix]", the URL after "s3://") names.
 */
int sl_blob_s3_open(const char *spec, struct sl_blob **out, struct sl_error *err);

#endif
