/* SPDX-License-Identifier: MIT */
/*
 * The model's result, as the snapshot is built from it (snap_build.h):
 * services with their ports and endpoints joined, the header's fields, and
 * an edit's changes, service by service. Defined by the model, which makes
 * them; the snapshot stage after it reads them.
 */
#ifndef LDMESH_AGENT_SNAP_INPUT_H
#define LDMESH_AGENT_SNAP_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "ldmesh/snapshot.h"

struct snap_port_in {
	const char *name;             /* may be NULL */
	const char *target_port_name; /* may be NULL */
	const char *app_protocol;     /* may be NULL */
	uint16_t port;
	uint16_t target_port;
	uint16_t node_port;
	uint8_t protocol;             /* LDMESH_PROTO_* */
};

struct snap_endpoint_in {
	uint8_t addr[16];
	uint32_t flags;         /* LDMESH_EP_F_READY/SERVING/TERMINATING; the
	                           builder sets LDMESH_EP_F_LOCAL itself */
	const char *node, *zone, *hostname, *target, *zone_hints; /* or NULL */
	const uint16_t *ports;  /* one per service port; 0 = not served */
};

/* One backendRef of the route attached to a service (3.5 splits). */
struct snap_split_in {
	const char *target;     /* the backend Service's FQDN, or NULL: a
	                           backendRef refused (its share rejected) */
	uint32_t weight;        /* 0..LDMESH_SPLIT_WEIGHT_MAX */
	uint16_t port;          /* the backend Service's port */
	uint16_t parent_port;   /* the parent port it applies to, 0: all */
};

struct snap_service_in {
	/* pointers first, small fields last: 100,000 of these live in the
	 * model, and the padding of a casual order was 24 bytes each */
	uint64_t cache_key;           /* nonzero: equal keys mean equal input, so
	                                 a cached block may stand in (model.c) */
	const char *ns, *name;
	const char *external_name;    /* or NULL */
	const uint8_t (*external_ips)[16];
	const uint8_t (*lb_ips)[16];  /* load-balancer ingress addresses */
	const struct snap_port_in *ports;
	const struct snap_endpoint_in *endpoints;
	const struct snap_split_in *splits; /* TCPRoutes attached (model_route.c) */
	uint8_t cluster_ips[LDMESH_MAX_CLUSTER_IPS][16];
	uint32_t affinity_timeout_s;
	uint32_t n_external_ips;
	uint32_t n_lb_ips;
	uint32_t n_ports;
	uint32_t n_endpoints;
	uint32_t n_splits;
	uint16_t flags;               /* LDMESH_SVC_F_* */
	uint8_t type;                 /* enum ldmesh_svc_type */
	uint8_t n_cluster_ips;
};

/* A backend the agent's own probe found failing (agent_health.c): the
 * endpoints with this address that serve this port are ordered out of
 * their Services' chosen endpoints, up to a share of each Service
 * (snap_block.c, block__ejected). */
struct snap_ejected_backend {
	uint8_t addr[16];
	uint16_t port;
};

struct snap_ejected {
	const struct snap_ejected_backend *v; /* sorted by snap_ejected_cmp */
	size_t n;
	unsigned max_percent;  /* of a Service's chosen endpoints, at most;
	                          never all of them */
};

/* The order of snap_ejected.v: address, then port. */
int snap_ejected_cmp(const void *a, const void *b);

struct snap_input {
	const char *cluster_domain;   /* "cluster.local" */
	const char *node_name;        /* or NULL */
	const char *node_zone;        /* or NULL */
	uint8_t service_cidr[16];
	uint8_t service_cidr_prefix;
	uint64_t generation;
	uint64_t created_unix_ns;
	uint32_t flags;               /* LDMESH_SNAP_F_* of the header */
	const struct snap_service_in *services;
	size_t n_services;
	const struct snap_ejected *ejected; /* or NULL: none */
};

/* One service of an edit (model_update), as snap_build_delta applies it. */
struct snap_change {
	const char *ns, *name;              /* the service's key */
	const struct snap_service_in *svc;  /* its input now, or NULL: removed */
};

#endif
