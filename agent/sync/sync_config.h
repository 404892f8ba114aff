/* SPDX-License-Identifier: MIT */
/*
 * Where the API server is and how to authenticate to it: in-cluster (the
 * pod's service account) or a kubeconfig file. Only what libcurl can do by
 * itself is supported: a bearer token (inline or from a file), a client
 * certificate and key (files or inline data), a CA (file or data), or no
 * verification at all. exec credential plugins and auth-provider users
 * (cloud logins) need code this program does not run, and are refused by
 * name.
 */
#ifndef LDMESH_SYNC_SYNC_CONFIG_H
#define LDMESH_SYNC_SYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* The pod's service-account files: token, ca.crt (and namespace). */
#define SYNC_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct sync_blob {
	char *data; /* decoded bytes (PEM), NULL when unset */
	size_t len;
};

struct sync_config {
	char *server;              /* "https://host:port", no trailing '/' */
	char *ca_file;             /* or ca (inline), or neither: system CAs */
	struct sync_blob ca;
	char *cert_file, *key_file; /* client certificate: files ... */
	struct sync_blob cert, key; /* ... or inline data */
	char *token;               /* a fixed token, or */
	char *token_file;          /* re-read before every request: bound
	                              service-account tokens rotate hourly */
	bool insecure;             /* insecure-skip-tls-verify */
};

/*
 * In-cluster: KUBERNETES_SERVICE_HOST and _PORT, and `sa_dir` (SYNC_SA_DIR
 * unless a test points elsewhere) for the token file and ca.crt. 0 or
 * -errno with the reason in err; *c is freed on failure.
 */
int sync_config_in_cluster(struct sync_config *c, const char *sa_dir,
			   char *err, size_t errlen);

/*
 * A kubeconfig's current context. Relative file names are relative to the
 * kubeconfig's folder, as kubectl resolves them. 0, or -EINVAL (a field
 * missing or of the wrong shape, or an exec/auth-provider user: err names
 * it with the file's line), -ENOENT and the like for the file.
 */
int sync_config_kubeconfig(struct sync_config *c, const char *path, char *err,
			   size_t errlen);

/*
 * The bearer token for the next request into buf (trailing whitespace
 * trimmed): "" when none is configured. 0, or -errno reading the file.
 */
int sync_config_token(const struct sync_config *c, char *buf, size_t n);

/* Deep free; accepts a zeroed config. */
void sync_config_free(struct sync_config *c);

/* Standard base64 (RFC 4648, padding optional, whitespace ignored) to
 * bytes. 0 and *out (malloc'd, NUL-terminated), or -EINVAL / -ENOMEM. */
int sync_base64_decode(const char *in, struct sync_blob *out);

#endif
