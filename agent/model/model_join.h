/* SPDX-License-Identifier: MIT */
/*
 * The model's join, below the full resolve and the edits alike: the join
 * indexes, the per-service references the full resolve leaves behind for
 * the edits that follow, and the steps of joining one service. Defined in
 * model.c; model_plan.h builds on it, never the other way round.
 */
#ifndef LDMESH_AGENT_MODEL_JOIN_H
#define LDMESH_AGENT_MODEL_JOIN_H

#include "model.h"
#include "strmap.h"

#define MODEL_KEY_MAX 1024 /* ns (63) + label key (317) + value (63), padded */

struct svc_ref {
	const struct k8s_service *svc;
	const char *path;
	uint64_t id;    /* the object's identity: load_id and index */
};

/* An object joined by index: its address, its identity and where it was
 * defined (path order, then position: the order joins see it in). */
struct obj_ref {
	const void *obj;
	uint64_t id;
	const char *path;
	uint32_t index;
};

struct join {
	const struct model_source *src;
	size_t n_src;
	const struct model_opts *o;
	struct diag *d;
	struct strmap slices;   /* "ns\0service" -> slice index */
	struct obj_ref *slice_v;
	size_t n_slice_v, cap_slice_v;
	struct strmap pods;     /* "ns\0key\0value" -> pod entry */
	struct obj_ref *pod_v;
	size_t n_pod_v, cap_pod_v;
	size_t unlinked;        /* entries of both left unused by edits */
	uint64_t opts_key;      /* cluster domain, node name and zone */
};

/* Kept with a full result so an edit can be applied to it in place. */
struct model_state {
	struct join j;
	struct svc_ref *refs;          /* parallel to model_out.services */
	struct strmap by_name;         /* "ns\0name" -> service index */
	struct strmap by_selector;     /* "ns\0key\0value" of the first
	                                  selector label -> service index */
	struct strmap by_ip;           /* a ClusterIP (16 bytes) -> service
	                                  index */
	size_t cap_services;           /* of model_out.services and the
	                                  per-service arrays here */
	struct snap_port_in **own_ports; /* per service: ports an edit gave
	                                    it, or NULL (in model_out.ports) */
	struct snap_change *changes;   /* model_update's answer */
	size_t n_changes, cap_changes;
	bool *dirty;                   /* per service, during an update */
	uint32_t *dirty_list;          /* the services marked, in order */
	size_t n_dirty;
};

/* A Service whose ClusterIP the agent allocates (none asked for, not
 * headless, not ExternalName). */
bool model__needs_address(const struct k8s_service *s);
/* Allocation order (<0: a before b): older Services first (creationTimestamp;
 * those without one after all that have one), then namespace and name. A
 * newer Service then never takes an older one's address, whichever sorts
 * first by name, and every node computes the same. */
int model__alloc_cmp(const struct k8s_service *a, const struct k8s_service *b);
/* This node's zone: --zone, else the label of the Node named --node (the
 * first one in path order, should a Node be defined twice); may be NULL. */
const char *model__zone(const struct model_source *src, size_t n, const struct model_opts *o);
/* "ns\0key\0value" of s's first selector label into key; 0 when none. */
size_t model__selector_key(char *key, size_t cap, const struct k8s_service *s);
/* The index by_name gives s's name, or STRMAP_END. */
uint32_t model__index_of(const struct model_state *st, const struct k8s_service *s);
/* Add service `i` to (or take it out of) the maps that name services by
 * index: by name, by first selector label, by its ClusterIPs. */
int model__index_service(struct model_out *m, uint32_t i, bool add);

uint64_t model__id(uint64_t load_id, size_t index);
size_t model__key(char *buf, size_t cap, const char *a, const char *b, const char *c);
void model__flags_from_service(const struct k8s_service *s, struct snap_service_in *o);
void model__ports(const struct k8s_service *s, struct snap_service_in *o,
		  struct snap_port_in *ports);
/* Join service `ref` (addresses already set in `o`): cache key and
 * endpoints; `pm` (may be NULL) offers a previous result's endpoints. */
struct prev_map;
int model__endpoints(struct join *j, const struct svc_ref *ref, struct snap_service_in *o,
		     struct prev_map *pm);
int model__join_add_slice(struct join *j, const struct k8s_slice *sl, uint64_t id,
			  const char *path, uint32_t index, bool ordered);
int model__join_add_pod(struct join *j, const struct k8s_pod *pod, uint64_t id,
			const char *path, uint32_t index, bool ordered);
void model__free_endpoints(struct snap_service_in *s);
/* Attach the sources' TCPRoutes to res's services (their splits, mixed
 * into their cache keys; res->splits, res->n_routes), reporting those
 * that attach nowhere through `d`. After the state is kept (by_name).
 * 0 or -ENOMEM. */
int model__routes(const struct model_source *src, size_t n, const char *domain,
		  struct model_out *res, struct diag *d);
/* `key` (a service's cache key from its join) with its splits mixed in. */
uint64_t model__splits_key(const struct snap_service_in *s, uint64_t key);
void model_state_free(struct model_state *st);

#endif
