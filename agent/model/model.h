/* SPDX-License-Identifier: MIT */
/*
 * The cluster model: every manifest file's last good objects in, the
 * resolved services (ClusterIPs assigned, endpoints joined) out, ready for
 * snap_build. Joins follow Kubernetes: EndpointSlices by their
 * kubernetes.io/service-name label; else v1 Endpoints of the same name;
 * else what the EndpointSlice controller would compute from Pods matching
 * the selector.
 */
#ifndef LDMESH_AGENT_MODEL_H
#define LDMESH_AGENT_MODEL_H

#include <stddef.h>

#include "ipalloc.h"
#include "manifest.h"
#include "snap_input.h"
#include "sources.h"

#define MODEL_ROUTE_NOTES 16
#define MODEL_ROUTE_NOTE_MAX 600

struct model_opts {
	const char *cluster_domain;
	const char *node_name;     /* may be NULL */
	const char *zone;          /* --zone; NULL: the Node node_name names, if
	                              any, by its topology.kubernetes.io/zone */
	struct ipalloc_cidrs cidrs; /* allocation from the first; explicit
	                               ClusterIPs must lie in one */
};

/* Resolved services; the snap_input points into this and into the
 * sources, so it is valid while both are. Each service carries a cache_key
 * naming its inputs (its object, the slices or pods it was joined with, its
 * addresses), so unchanged services can be reused from one resolve to the
 * next and by the snapshot builder's cache. */
struct model_out {
	struct snap_input in;
	struct snap_service_in *services;
	size_t n_services;
	struct snap_port_in *ports; /* every service's ports, one block */
	unsigned conflicts;        /* duplicates and address clashes reported */
	struct model_alloc *allocs; /* every allocated ClusterIP, owned */
	size_t n_allocs;
	char *alloc_keys;
	size_t n_allocated;         /* by the last model_update in place: the
	                               caller saves the allocations again */
	struct model_state *state;  /* what model_update edits in place */
	struct snap_split_in *splits; /* every service's, one block (model_route.c) */
	size_t n_routes;            /* TCPRoutes in the sources */
	/* TCPRoutes attached nowhere, "path:line:col: warning: ...", for
	 * the status (the log has each too): at most MODEL_ROUTE_NOTES, and
	 * how many more */
	char (*route_notes)[MODEL_ROUTE_NOTE_MAX];
	size_t n_route_notes, route_notes_more;
};

/*
 * Resolve `n` sources, given in path order; the services come out in that
 * order. A Service defined twice, or two Services asking for one clusterIP:
 * the first definition in path order wins, the other is reported through
 * `d` as a warning (not an error) and dropped, or gets no address.
 * Addresses are allocated in (namespace, name) order.
 *
 * `prev` (may be NULL) is the previous result over the same sources minus
 * what changed since: services whose cache_key is unchanged take its arrays
 * instead of joining again; whatever is taken is removed from `prev`, which
 * the caller still frees. Returns 0 or -ENOMEM.
 */
int model_resolve(const struct model_source *src, size_t n,
		  const struct model_opts *o, struct model_out *prev,
		  struct model_out *out, struct diag *d);
void model_out_free(struct model_out *out);

/*
 * Apply an edit to `m`, a result of model_resolve over the sources before
 * it, in place: `changed` holds, for every file created, rewritten or
 * removed since, the version `m` was resolved from (an empty set for a
 * file that is new), in the order they were replaced; `src` is the sources
 * now. Only the services the edit touches are joined again: those defined
 * in a changed file, those its EndpointSlices name, and those whose
 * selector's first label a changed Pod carries (before or after).
 *
 * Services may also come and go in place (model_services.c): when the
 * model holds no conflict and each new one brings its own free addresses
 * or is allocated some as the full resolve would. A Node is followed in
 * place unless it moves this node's zone.
 *
 * Returns 1 with *changes (n_changes entries, owned by `m`, valid until the
 * next call) naming every service joined again, and every one removed
 * (svc NULL; its names point into the retired version, valid until the
 * caller frees it); 0 when the edit may move what the whole table decides
 * (a Service coming or going where the table has a conflict, or whose
 * address only the full resolve can settle; a Service given other
 * addresses, name or creation time that cannot be followed so; this
 * node's zone moved by a Node; a TCPRoute; a change the model cannot
 * follow): then nothing was touched and the caller resolves in full.
 * -ENOMEM: `m` may be half edited; resolve in full.
 */
int model_update(struct model_out *m, const struct model_source *src, size_t n,
		 const struct model_source *changed, size_t n_changed,
		 const struct model_opts *o, struct diag *d,
		 const struct snap_change **changes, size_t *n_changes);

#endif
