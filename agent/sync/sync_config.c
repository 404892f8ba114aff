/* SPDX-License-Identifier: MIT */
/* In-cluster configuration, the token, and freeing. kubeconfig.c reads the
 * other source. */
#define _GNU_SOURCE
#include "sync_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sync_config_free(struct sync_config *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca.data);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert.data);
	free(c->key.data);
	free(c->token);
	free(c->token_file);
	memset(c, 0, sizeof(*c));
}

int sync_config_in_cluster(struct sync_config *c, const char *sa_dir,
			   char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	int ret = 0;

	memset(c, 0, sizeof(*c));
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen, "not in a cluster: KUBERNETES_SERVICE_HOST and "
				      "KUBERNETES_SERVICE_PORT are not both set "
				      "(use --kubeconfig FILE)");
		return -EINVAL;
	}
	/* An IPv6 service host needs brackets in a URL (client-go's
	 * net.JoinHostPort). */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		     host, port) < 0 ||
	    asprintf(&c->token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0) {
		c->server = c->token_file = c->ca_file = NULL;
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (access(c->ca_file, R_OK)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", c->ca_file, strerror(errno));
	}
out:
	if (ret)
		sync_config_free(c);
	return ret;
}

int sync_config_token(const struct sync_config *c, char *buf, size_t n)
{
	ssize_t got;
	size_t len;
	int fd;

	buf[0] = '\0';
	if (c->token) {
		snprintf(buf, n, "%s", c->token);
		return 0;
	}
	if (!c->token_file)
		return 0;
	/* Read on every request rather than cached by mtime: a request is
	 * rare (a list page, a watch) and this catches every rotation, even
	 * one that keeps the size and the second. */
	fd = open(c->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -errno;
	if ((size_t)got == n - 1) {
		buf[0] = '\0';
		return -EFBIG;
	}
	len = (size_t)got;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	return 0;
}
