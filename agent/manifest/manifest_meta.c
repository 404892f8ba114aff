/* SPDX-License-Identifier: MIT */
/* metadata: name, namespace, labels, deletionTimestamp; and label maps. */
#include "manifest_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void mf_labels_free(struct k8s_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *mf_label_get(const struct k8s_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].value;
	return NULL;
}

int mf_labels(struct mf_ctx *c, const mf_node *map, const char *path,
	      struct k8s_labels *out)
{
	char p[MF_PATH_MAX];
	int ret;

	if (!map->n)
		return 1;
	out->v = calloc(map->n, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < map->n; i++) {
		const mf_node *k = map->child[2 * i], *v = map->child[2 * i + 1];
		const char *value = "";
		struct k8s_label *l;

		if (k->kind != YAML_TREE_SCALAR) {
			mf_error(c, k, "%s: keys must be strings", path);
			continue;
		}
		mf_path(p, sizeof(p), path, k->str);
		if (!mf_is_label_key(k->str))
			mf_error(c, k,
				 "%s: \"%.64s\" is not a valid label key (an optional DNS subdomain prefix and '/', then at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends)",
				 path, k->str);
		/* The API stores label values as strings; null becomes "". */
		if (!yaml_tree_is_null(v)) {
			ret = mf_as_str(c, v, p, &value);
			if (ret < 0)
				continue;
			if (!mf_is_label_value(value))
				mf_error(c, v,
					 "%s: \"%.64s\" is not a valid label value (at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends)",
					 p, value);
		}
		l = &out->v[out->n++];
		l->key = strdup(k->str);
		l->value = strdup(value);
		if (!l->key || !l->value)
			return -ENOMEM;
	}
	return 1;
}

int mf_parse_time(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	struct tm tm;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	s += n;
	if (*s == '.') /* fractional seconds: not needed for an order */
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (*s == 'Z' && !s[1]) {
		*out = (int64_t)t;
		return 0;
	}
	if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':') {
		int oh, om;
		if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2)
			return -EINVAL;
		*out = (int64_t)t - (*s == '+' ? 1 : -1) * (oh * 3600 + om * 60);
		return 0;
	}
	return -EINVAL;
}

void mf_meta_free(struct k8s_meta *m)
{
	free(m->ns);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

int mf_meta_copy(struct k8s_meta *dst, const struct k8s_meta *src)
{
	*dst = (struct k8s_meta){
		.deleting = src->deleting,
		.line = src->line,
		.col = src->col,
	};
	dst->ns = src->ns ? strdup(src->ns) : NULL;
	dst->name = src->name ? strdup(src->name) : NULL;
	if ((src->ns && !dst->ns) || (src->name && !dst->name))
		return -ENOMEM;
	return 0;
}

static int mf_meta_fields(struct mf_ctx *c, const mf_node *obj, enum mf_name_rule rule,
			  struct k8s_meta *m, struct k8s_labels *labels_out)
{
	const mf_node *meta = NULL, *at = NULL, *labels = NULL;
	const char *name = NULL, *ns = NULL;
	bool deleting = false;
	int ret;

	m->line = obj->line;
	m->col = obj->col;
	ret = mf_get_map(c, obj, "", "metadata", &meta);
	if (ret < 0)
		return ret;
	if (!meta) {
		mf_error(c, obj, "metadata.name: Required value");
		return 0;
	}
	ret = mf_get_str(c, meta, "metadata", "name", &name, &at);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 0)
		mf_error(c, meta, "metadata.name: Required value");
	else if (ret == 1 && rule == MF_NAME_DNS1035_LABEL &&
		 !mf_is_dns1035_label(name))
		mf_error(c, at,
			 "metadata.name: \"%.64s\" is not a valid DNS-1035 label (at most 63 of [-a-z0-9], starting with a letter, alphanumeric at the end)",
			 name);
	else if (ret == 1 && rule == MF_NAME_DNS1123_SUBDOMAIN &&
		 !mf_is_dns1123_subdomain(name))
		mf_error(c, at,
			 "metadata.name: \"%.64s\" is not a valid DNS-1123 subdomain (at most 253 of [-a-z0-9.], alphanumeric at both ends of each label)",
			 name);
	if (ret == 1) {
		m->name = strdup(name);
		if (!m->name)
			return -ENOMEM;
	}

	ret = mf_get_str(c, meta, "metadata", "namespace", &ns, &at);
	if (ret == -ENOMEM)
		return ret;
	/* `namespace: ""` is what the API treats as unset, as for absent. */
	if (ret == 1 && *ns && !mf_is_dns1123_label(ns))
		mf_error(c, at,
			 "metadata.namespace: \"%.64s\" is not a valid DNS-1123 label (at most 63 of [-a-z0-9], alphanumeric at both ends)",
			 ns);
	m->ns = strdup(ret == 1 && *ns ? ns : "default");
	if (!m->ns)
		return -ENOMEM;

	ret = mf_get_map(c, meta, "metadata", "labels", &labels);
	if (ret == 1)
		ret = mf_labels(c, labels, "metadata.labels", labels_out);
	if (ret == -ENOMEM)
		return ret;

	/* RFC 3339 as the API writes it ("2024-05-01T10:00:00Z", UTC): the
	 * order ClusterIPs are allocated in, so a newer Service never takes
	 * an older one's address (model.c). */
	const char *created;
	ret = mf_get_str(c, meta, "metadata", "creationTimestamp", &created, &at);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 1 && mf_parse_time(created, &m->created) < 0)
		mf_error(c, at,
			 "metadata.creationTimestamp: \"%.64s\" is not an RFC 3339 time", created);

	/* Any timestamp at all marks a graceful deletion in progress. */
	if (!yaml_tree_is_null(yaml_tree_map_get(meta, "deletionTimestamp")))
		deleting = true;
	m->deleting = deleting;
	return 1;
}

/* The labels are parsed and checked for every kind; kept in *labels_out
 * when given (the caller frees them), else dropped. */
int mf_meta(struct mf_ctx *c, const mf_node *obj, enum mf_name_rule rule,
	    struct k8s_meta *m, struct k8s_labels *labels_out)
{
	struct k8s_labels none = { .v = NULL };
	struct k8s_labels *out = labels_out ? labels_out : &none;
	int ret = mf_meta_fields(c, obj, rule, m, out);

	mf_labels_free(&none);
	return ret;
}
