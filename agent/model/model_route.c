/* SPDX-License-Identifier: MIT */
/*
 * TCPRoutes attached to Services (Gateway API for service mesh, GAMMA):
 * each route's Service parentRefs take the connections made to that
 * Service (or to one of its ports) and split them among its backendRefs.
 *
 * Several routes on one parent (a Service and port): the Gateway API's
 * conflict rule decides, the oldest creationTimestamp first, then
 * "{namespace}/{name}" alphabetically; the others are reported and change
 * nothing. A route whose parent is not in the table, names a port the
 * Service lacks, or lives in another namespace than its parent (a consumer
 * route, which applies only to its own namespace's clients: a node-wide
 * table cannot tell them apart) is reported and attaches nowhere.
 *
 * What a route says becomes part of its parent's input (the splits and
 * the cache key), so a change of a route republishes its parent and
 * nothing else.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "model_join.h"

struct attach {
	const struct k8s_tcproute *route;
	const char *path;
	uint32_t svc;      /* index into model_out.services */
	uint16_t port;     /* parent port, 0: all */
};

/* Kept for the status while it lasts: a resolve recomputes them all. */
static void route__note(struct model_out *res, const char *line)
{
	if (res->n_route_notes == MODEL_ROUTE_NOTES ||
	    (!res->route_notes &&
	     !(res->route_notes = calloc(MODEL_ROUTE_NOTES, sizeof(*res->route_notes))))) {
		res->route_notes_more++;
		return;
	}
	snprintf(res->route_notes[res->n_route_notes++], sizeof(*res->route_notes), "%.599s", line);
}

__attribute__((format(printf, 5, 6)))
static void route__warn(struct diag *d, struct model_out *res, const char *path,
			const struct k8s_tcproute *r, const char *fmt, ...)
{
	char msg[384], line[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%u:%u: warning: TCPRoute %s/%s: %s", path, r->meta.line,
		 r->meta.col, r->meta.ns, r->meta.name, msg);
	route__note(res, line);
	if (d && d->warn)
		d->warn(d->ctx, line);
	else if (d && d->report)
		d->report(d->ctx, line);
}

/* The conflict order: parent, then the Gateway API's precedence (oldest
 * creationTimestamp; none sorts last; then namespace/name). */
static int route__cmp(const void *pa, const void *pb)
{
	const struct attach *a = pa, *b = pb;
	const struct k8s_meta *x = &a->route->meta, *y = &b->route->meta;
	int c;

	if (a->svc != b->svc)
		return a->svc < b->svc ? -1 : 1;
	if (a->port != b->port)
		return a->port > b->port ? -1 : 1; /* port-specific first */
	if (x->created != y->created) {
		if (!x->created || !y->created)
			return x->created ? -1 : 1;
		return x->created < y->created ? -1 : 1;
	}
	if ((c = strcmp(x->ns, y->ns)))
		return c;
	return strcmp(x->name, y->name);
}

static bool route__has_port(const struct snap_service_in *s, uint16_t port)
{
	for (uint32_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].port == port && s->ports[i].protocol == LDMESH_PROTO_TCP)
			return true;
	return false;
}

/* Every Service parentRef that names a Service of the table. */
static int route__collect(const struct model_source *src, size_t n, struct model_out *res,
			  struct diag *d, struct attach **out, size_t *n_out)
{
	struct model_state *st = res->state;
	struct attach *v = NULL;
	size_t cap = 0, k = 0;
	char key[MODEL_KEY_MAX];

	for (size_t f = 0; f < n; f++) {
		for (size_t i = 0; i < src[f].set->n_routes; i++) {
			const struct k8s_tcproute *r = &src[f].set->routes[i];

			for (size_t p = 0; p < r->n_parents; p++) {
				const struct k8s_parent_ref *pr = &r->parents[p];
				size_t len = model__key(key, sizeof(key), pr->ns, pr->name, NULL);
				uint32_t svc = len ? strmap_first(&st->by_name, key, len) : STRMAP_END;

				if (strcmp(pr->ns, r->meta.ns)) {
					route__warn(d, res, src[f].path, r, "parent Service %s/%s is in "
						    "another namespace (a consumer route): not "
						    "attached", pr->ns, pr->name);
					continue;
				}
				if (svc == STRMAP_END || svc >= res->n_services) {
					route__warn(d, res, src[f].path, r, "parent Service %s/%s not found: "
						    "not attached", pr->ns, pr->name);
					continue;
				}
				if (pr->port && !route__has_port(&res->services[svc], pr->port)) {
					route__warn(d, res, src[f].path, r, "parent Service %s/%s has no "
						    "TCP port %u: not attached", pr->ns, pr->name,
						    pr->port);
					continue;
				}
				if (k == cap) {
					void *g = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
					if (!g) {
						free(v);
						return -ENOMEM;
					}
					v = g;
				}
				v[k++] = (struct attach){ r, src[f].path, svc, pr->port };
			}
		}
	}
	*out = v;
	*n_out = k;
	return 0;
}

uint64_t model__splits_key(const struct snap_service_in *s, uint64_t key)
{
	uint64_t h = s->n_splits;

	for (uint32_t k = 0; k < s->n_splits; k++) {
		const struct snap_split_in *sp = &s->splits[k];

		h = ldmesh_hash64(sp->target ? sp->target : "", sp->target ? strlen(sp->target) : 0,
				  h ^ ((uint64_t)sp->weight << 33) ^ ((uint64_t)sp->port << 17) ^
					  ((uint64_t)sp->parent_port << 1) ^ !sp->target);
	}
	return ldmesh_hash64(&h, sizeof(h), key) | 1;
}

/* "<name>.<ns>.svc.<domain>" of each backendRef the winners name, and the
 * split records, in one allocation owned by res (res->splits). */
static int route__splits(struct model_out *res, const struct attach *w, size_t n_w,
			 const char *domain)
{
	size_t recs = 0, bytes = 0;
	struct snap_split_in *v;
	char *names;

	for (size_t i = 0; i < n_w; i++)
		for (size_t k = 0; k < w[i].route->n_refs; k++)
			bytes += strlen(w[i].route->refs[k].name) + strlen(w[i].route->refs[k].ns) +
				 strlen(domain) + 8, recs++;
	if (!(v = malloc(recs * sizeof(*v) + bytes + 1)))
		return -ENOMEM;
	names = (char *)(v + recs);
	res->splits = v;
	for (size_t i = 0; i < n_w; i++) {
		struct snap_service_in *s = &res->services[w[i].svc];

		if (!s->n_splits)
			s->splits = v;
		for (size_t k = 0; k < w[i].route->n_refs; k++, v++, s->n_splits++) {
			const struct k8s_backend_ref *br = &w[i].route->refs[k];
			int len = sprintf(names, "%s.%s.svc.%s", br->name, br->ns, domain);

			*v = (struct snap_split_in){ .target = br->refused ? NULL : names,
						     .weight = br->weight, .port = br->port,
						     .parent_port = w[i].port };
			names += len + 1;
		}
	}
	/* the route is part of the parent's input: a changed route is a
	 * changed parent, and only that */
	for (size_t i = 0; i < n_w; i++)
		if (!i || w[i].svc != w[i - 1].svc)
			res->services[w[i].svc].cache_key =
				model__splits_key(&res->services[w[i].svc],
						  res->services[w[i].svc].cache_key);
	return 0;
}

int model__routes(const struct model_source *src, size_t n, const char *domain,
		  struct model_out *res, struct diag *d)
{
	struct attach *v = NULL;
	size_t n_v = 0, n_w = 0;
	int err;

	res->n_routes = 0;
	for (size_t f = 0; f < n; f++)
		res->n_routes += src[f].set->n_routes;
	if (!res->n_routes)
		return 0;
	if ((err = route__collect(src, n, res, d, &v, &n_v)) || !n_v)
		return err;
	qsort(v, n_v, sizeof(*v), route__cmp);
	for (size_t i = 0; i < n_v; i++) {
		const struct attach *win = n_w ? &v[n_w - 1] : NULL;
		const struct snap_service_in *s = &res->services[v[i].svc];

		if (win && win->svc == v[i].svc && win->port == v[i].port) {
			char who[300];

			snprintf(who, sizeof(who), "%s/%s", win->route->meta.ns, win->route->meta.name);
			route__warn(d, res, v[i].path, v[i].route, "loses to TCPRoute %s (older, or first "
				    "by namespace/name) on Service %s: not attached", who, s->name);
			continue;
		}
		v[n_w++] = v[i];
	}
	err = route__splits(res, v, n_w, domain);
	free(v);
	return err;
}
