/* SPDX-License-Identifier: MIT */
/*
 * A kubeconfig's current context, read with the agent's YAML tree (libyaml):
 *
 *	current-context: C
 *	contexts: [{name: C, context: {cluster: K, user: U}}]
 *	clusters: [{name: K, cluster: {server, certificate-authority[-data],
 *	                               insecure-skip-tls-verify}}]
 *	users:    [{name: U, user: {token, tokenFile, client-certificate[-data],
 *	                            client-key[-data]}}]
 */
#define _GNU_SOURCE
#include "sync_config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

/* A kubeconfig with embedded certificates is a few KiB; a MiB is plenty. */
#define KUBECONFIG_MAX_BYTES (1u << 20)

struct kc {
	const char *path;
	char dir[PATH_MAX];
	char *err;
	size_t errlen;
};

static int kc__fail(struct kc *k, const struct yaml_tree_node *at,
		    const char *fmt, const char *what)
{
	char msg[200];

	snprintf(msg, sizeof(msg), fmt, what);
	if (at)
		snprintf(k->err, k->errlen, "%s:%u:%u: %s", k->path, at->line,
			 at->col, msg);
	else
		snprintf(k->err, k->errlen, "%s: %s", k->path, msg);
	return -EINVAL;
}

static const char *kc__str(const struct yaml_tree_node *map, const char *key)
{
	const struct yaml_tree_node *v = yaml_tree_map_get(map, key);

	return v && v->kind == YAML_TREE_SCALAR && !yaml_tree_is_null(v) ? v->str
									 : NULL;
}

/* The `field` map of the item of sequence root.<list> named `name`. */
static const struct yaml_tree_node *kc__named(struct kc *k,
					      const struct yaml_tree_node *root,
					      const char *list, const char *field,
					      const char *name)
{
	const struct yaml_tree_node *seq = yaml_tree_map_get(root, list);

	if (!seq || seq->kind != YAML_TREE_SEQ)
		return NULL;
	for (size_t i = 0; i < seq->n; i++) {
		const char *n = kc__str(seq->child[i], "name");
		const struct yaml_tree_node *v;

		if (!n || strcmp(n, name))
			continue;
		v = yaml_tree_map_get(seq->child[i], field);
		return v && v->kind == YAML_TREE_MAP ? v : NULL;
	}
	return NULL;
}

/* A file name from the kubeconfig, relative to its folder. */
static int kc__path(struct kc *k, const char *p, char **out)
{
	int r = p[0] == '/' ? asprintf(out, "%s", p)
			    : asprintf(out, "%s/%s", k->dir, p);

	if (r < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int kc__data(struct kc *k, const struct yaml_tree_node *map,
		    const char *key, struct sync_blob *out)
{
	const char *s = kc__str(map, key);

	if (!s)
		return 0;
	if (sync_base64_decode(s, out))
		return kc__fail(k, yaml_tree_map_get(map, key),
				"%s: not base64", key);
	return 0;
}

static int kc__file(struct kc *k, const struct yaml_tree_node *map,
		    const char *key, char **out)
{
	const char *s = kc__str(map, key);

	return s ? kc__path(k, s, out) : 0;
}

static int kc__cluster(struct kc *k, const struct yaml_tree_node *cl,
		       struct sync_config *c)
{
	const char *server = kc__str(cl, "server");
	const char *insecure = kc__str(cl, "insecure-skip-tls-verify");
	size_t n;
	int ret;

	if (!server || !*server)
		return kc__fail(k, cl, "%s: the cluster has no server", "cluster");
	c->server = strdup(server);
	if (!c->server)
		return -ENOMEM;
	n = strlen(c->server);
	while (n && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->insecure = insecure && !strcmp(insecure, "true");
	ret = kc__data(k, cl, "certificate-authority-data", &c->ca);
	if (!ret && !c->ca.data)
		ret = kc__file(k, cl, "certificate-authority", &c->ca_file);
	return ret;
}

static int kc__user(struct kc *k, const struct yaml_tree_node *u,
		    struct sync_config *c)
{
	static const char *const unsupported[] = { "exec", "auth-provider" };
	const char *token = kc__str(u, "token");
	int ret;

	for (size_t i = 0; i < 2; i++) {
		const struct yaml_tree_node *v = yaml_tree_map_get(u, unsupported[i]);

		if (v && !yaml_tree_is_null(v))
			return kc__fail(k, v, "user.%s: credential plugins are not "
					      "supported by ldmesh-sync (use a token, "
					      "tokenFile or client certificate)",
					unsupported[i]);
	}
	if (token && !(c->token = strdup(token)))
		return -ENOMEM;
	ret = kc__file(k, u, "tokenFile", &c->token_file);
	if (!ret)
		ret = kc__data(k, u, "client-certificate-data", &c->cert);
	if (!ret && !c->cert.data)
		ret = kc__file(k, u, "client-certificate", &c->cert_file);
	if (!ret)
		ret = kc__data(k, u, "client-key-data", &c->key);
	if (!ret && !c->key.data)
		ret = kc__file(k, u, "client-key", &c->key_file);
	if (!ret && !(c->cert.data || c->cert_file) != !(c->key.data || c->key_file))
		ret = kc__fail(k, u, "%s: a client certificate needs its key, "
				     "and a key its certificate", "user");
	return ret;
}

static int kc__load(struct kc *k, const struct yaml_tree_node *root,
		    struct sync_config *c)
{
	const char *ctx_name = kc__str(root, "current-context");
	const struct yaml_tree_node *ctx, *cl, *u = NULL;
	const char *cl_name, *u_name;
	int ret;

	if (!root || root->kind != YAML_TREE_MAP)
		return kc__fail(k, root, "%s", "not a kubeconfig (no mapping)");
	if (!ctx_name || !*ctx_name)
		return kc__fail(k, root, "%s", "no current-context");
	ctx = kc__named(k, root, "contexts", "context", ctx_name);
	if (!ctx)
		return kc__fail(k, root, "current-context \"%.100s\" is not in contexts",
				ctx_name);
	cl_name = kc__str(ctx, "cluster");
	u_name = kc__str(ctx, "user");
	cl = cl_name ? kc__named(k, root, "clusters", "cluster", cl_name) : NULL;
	if (!cl)
		return kc__fail(k, ctx, "context's cluster \"%.100s\" is not in clusters",
				cl_name ? cl_name : "");
	if (u_name && *u_name) {
		u = kc__named(k, root, "users", "user", u_name);
		if (!u)
			return kc__fail(k, ctx, "context's user \"%.100s\" is not in users",
					u_name);
	}
	ret = kc__cluster(k, cl, c);
	if (!ret && u)
		ret = kc__user(k, u, c);
	return ret;
}

int sync_config_kubeconfig(struct sync_config *c, const char *path, char *err,
			   size_t errlen)
{
	struct kc k = { .path = path, .err = err, .errlen = errlen };
	struct yaml_tree_stream s;
	struct yaml_tree_error yerr;
	char tmp[PATH_MAX];
	int ret;

	memset(c, 0, sizeof(*c));
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(k.dir, sizeof(k.dir), "%s", dirname(tmp));
	ret = yaml_tree_load_file(path, KUBECONFIG_MAX_BYTES, &s, &yerr);
	if (ret) {
		if (yerr.line)
			snprintf(err, errlen, "%s:%u:%u: %s", path, yerr.line,
				 yerr.col, yerr.msg);
		else
			snprintf(err, errlen, "%s: %s", path,
				 yerr.msg[0] ? yerr.msg : strerror(-ret));
		return ret;
	}
	ret = s.n_docs ? kc__load(&k, s.docs[0].root, c)
		       : kc__fail(&k, NULL, "%s", "empty file");
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	yaml_tree_free(&s);
	if (ret)
		sync_config_free(c);
	return ret;
}
