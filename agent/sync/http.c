/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/version.h"

/* Largest token accepted: bound service-account tokens are about 1 KiB,
 * OIDC tokens a few. */
#define SYNC_TOKEN_MAX 16384

static int http__tls(CURL *e, const struct sync_config *c)
{
	struct curl_blob b;

	if (c->ca.data) {
		b = (struct curl_blob){ c->ca.data, c->ca.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	} else if (c->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert.data) {
		b = (struct curl_blob){ c->cert.data, c->cert.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
	} else if (c->cert_file) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key.data) {
		b = (struct curl_blob){ c->key.data, c->key.len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
	} else if (c->key_file) {
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	}
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

static int http__auth(struct sync_http_req *r, const struct sync_config *c,
		      char *err, size_t errlen)
{
	char *token = malloc(SYNC_TOKEN_MAX), *hdr = NULL;
	int ret = token ? sync_config_token(c, token, SYNC_TOKEN_MAX) : -ENOMEM;
	struct curl_slist *l;

	if (ret) {
		snprintf(err, errlen, "token %s: %s", c->token_file ? c->token_file : "",
			 strerror(-ret));
		goto out;
	}
	if (token[0] && asprintf(&hdr, "Authorization: Bearer %s", token) < 0) {
		hdr = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (hdr) {
		l = curl_slist_append(r->headers, hdr);
		if (!l) {
			ret = -ENOMEM;
			goto out;
		}
		r->headers = l;
	}
out:
	if (hdr) /* the token does not linger in freed memory */
		explicit_bzero(hdr, strlen(hdr));
	if (token)
		explicit_bzero(token, SYNC_TOKEN_MAX);
	free(hdr);
	free(token);
	return ret;
}

int sync_http_req_init(struct sync_http_req *r, const struct sync_config *c,
		       const char *url, long timeout_s, char *err, size_t errlen)
{
	struct curl_slist *l;
	int ret;

	memset(r, 0, sizeof(*r));
	r->easy = curl_easy_init();
	l = curl_slist_append(NULL, "Accept: application/json");
	if (!r->easy || !l) {
		curl_slist_free_all(l);
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->headers = l;
	ret = http__auth(r, c, err, errlen);
	if (ret)
		goto fail;
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ldmesh-sync/" LDMESH_VERSION);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Proxies: libcurl reads https_proxy/no_proxy from the environment,
	 * as client-go's http.ProxyFromEnvironment does. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	/* A watch is idle for minutes: keepalive probes find a peer that
	 * vanished without a FIN (idle 30 s, then every 10 s). */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	http__tls(e, c);
	return 0;
fail:
	sync_http_req_free(r);
	return ret;
}

void sync_http_req_free(struct sync_http_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	r->easy = NULL;
	r->headers = NULL;
}

char *sync_http_url(const char *server, const char *path, ...)
{
	char *url = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&url, &len);
	const char *key, *sep = "?";
	va_list ap;

	if (!f)
		return NULL;
	fprintf(f, "%s%s", server, path);
	va_start(ap, path);
	while ((key = va_arg(ap, const char *))) {
		const char *val = va_arg(ap, const char *);
		char *esc;

		if (!val)
			continue;
		esc = curl_easy_escape(NULL, val, 0);
		if (!esc) {
			va_end(ap);
			fclose(f);
			free(url);
			return NULL;
		}
		fprintf(f, "%s%s=%s", sep, key, esc);
		curl_free(esc);
		sep = "&";
	}
	va_end(ap);
	if (fclose(f)) {
		free(url);
		return NULL;
	}
	return url;
}
