/* SPDX-License-Identifier: MIT */
/*
 * The duplicate-object check. Two objects with one (kind, namespace, name)
 * cannot both exist in the API; in a file it means a copy-paste slip, and
 * keeping either silently would route by accident. The kind parsers record
 * each object as they add it to the set; manifest.c checks once, after the
 * last document, so a file of many objects stays O(n log n). Kept apart
 * from manifest.c so the kind parsers depend on this and not on the
 * dispatcher that calls them.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const mf_kind_names[] = {
	[MF_SERVICE] = "Service",
	[MF_ENDPOINT_SLICE] = "EndpointSlice",
	[MF_ENDPOINTS] = "Endpoints",
	[MF_POD] = "Pod",
	[MF_NODE] = "Node",
	[MF_TCPROUTE] = "TCPRoute",
};

int mf_seen_add(struct mf_ctx *c, enum mf_kind kind, const struct k8s_meta *m)
{
	if (!m->name || !m->ns)
		return 0; /* already reported as missing */
	if (mf_grow((void **)&c->seen, &c->cap_seen, c->n_seen,
		    sizeof(*c->seen)))
		return -ENOMEM;
	c->seen[c->n_seen] = (struct mf_seen){
		.kind = kind,
		.ns = m->ns,
		.name = m->name,
		.line = m->line,
		.col = m->col,
		.order = c->n_seen,
	};
	c->n_seen++;
	return 0;
}

static int mf_seen_cmp(const void *pa, const void *pb)
{
	const struct mf_seen *a = pa, *b = pb;
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	r = strcmp(a->ns, b->ns);
	if (!r)
		r = strcmp(a->name, b->name);
	if (!r)
		r = a->order < b->order ? -1 : a->order > b->order;
	return r;
}

/* Strings are borrowed from the set, still alive here. */
void mf_seen_check(struct mf_ctx *c)
{
	if (c->n_seen < 2)
		return;
	qsort(c->seen, c->n_seen, sizeof(*c->seen), mf_seen_cmp);
	for (size_t i = 1, first = 0; i < c->n_seen; i++) {
		const struct mf_seen *a = &c->seen[first], *b = &c->seen[i];
		mf_node at = { .line = b->line, .col = b->col };

		if (a->kind != b->kind || strcmp(a->ns, b->ns) ||
		    strcmp(a->name, b->name)) {
			first = i;
			continue;
		}
		mf_error(c, &at, "duplicate %s %s/%s (first defined at line %u)",
			 mf_kind_names[b->kind], b->ns, b->name, a->line);
	}
}
