/* SPDX-License-Identifier: MIT */
/* One libcurl request to the API server, configured from sync_config: TLS
 * as configured, the bearer token read now, JSON, and no redirects (a
 * redirect from the API server is not followed: it would carry the token
 * elsewhere). */
#ifndef LDMESH_SYNC_HTTP_H
#define LDMESH_SYNC_HTTP_H

#include <curl/curl.h>

#include "sync_config.h"

struct sync_http_req {
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * Prepare a GET of `url` (which sync_http_url built) into `r`. `timeout_s`
 * bounds the whole transfer (0: none). The caller sets the write callback.
 * 0, or -errno with a reason in err (the token file unreadable: -errno of
 * the read).
 */
int sync_http_req_init(struct sync_http_req *r, const struct sync_config *c,
		       const char *url, long timeout_s, char *err, size_t errlen);
void sync_http_req_free(struct sync_http_req *r);

/*
 * server + path + "?" + the given key=value pairs (values URL-escaped),
 * NULL-terminated list of alternating keys and values; a NULL value skips
 * its key. Caller-owned; NULL on -ENOMEM.
 */
char *sync_http_url(const char *server, const char *path, ...);

#endif
