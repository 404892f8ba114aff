/* SPDX-License-Identifier: MIT */
/*
 * Kubernetes manifests -> typed objects. One file (or string) in, the
 * Services, EndpointSlices (v1 Endpoints are converted to slices) and Pods it
 * holds out, validated the way the API server would validate the fields
 * ldmesh uses. Errors name the place: "path:line:col: message".
 *
 * All strings are heap copies owned by the manifest_set.
 */
#ifndef LDMESH_AGENT_MANIFEST_H
#define LDMESH_AGENT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ipalloc.h"

/* Files larger than this are refused before parsing: a manifest folder is
 * not a place for data, and a bound keeps one bad file from exhausting the
 * agent. */
#define MANIFEST_MAX_FILE_BYTES (32u << 20)

struct k8s_label {
	char *key;
	char *value;
};

struct k8s_labels {
	struct k8s_label *v;
	size_t n;
};

struct k8s_meta {
	char *ns;   /* metadata.namespace, "default" when absent */
	char *name; /* metadata.name */
	bool deleting;    /* metadata.deletionTimestamp is set */
	int64_t created;  /* metadata.creationTimestamp, Unix seconds; 0 when
	                     absent (hand-written manifests) */
	uint32_t line, col; /* where the object's document starts (1-based) */
};

struct k8s_service_port {
	char *name;             /* "" when absent */
	char *target_port_name; /* named targetPort, else NULL */
	char *app_protocol;     /* NULL when absent */
	uint16_t port;
	uint16_t target_port;   /* numeric targetPort; defaults to port */
	uint16_t node_port;     /* 0 when absent */
	uint8_t protocol;       /* LDMESH_PROTO_*, default TCP */
};

struct k8s_service {
	struct k8s_meta meta;
	uint8_t type;      /* enum ldmesh_svc_type, default CLUSTER_IP */
	bool headless;     /* spec.clusterIP: None */
	uint8_t n_cluster_ips;  /* from spec.clusterIPs / spec.clusterIP; 0 =
	                           allocate */
	uint8_t cluster_ips[2][16]; /* IPv4-mapped for v4 */
	bool has_selector;
	/* (the flags together, in what the addresses leave of a word) */
	bool affinity_client_ip;
	bool internal_local;    /* internalTrafficPolicy: Local */
	bool external_local;    /* externalTrafficPolicy: Local */
	bool publish_not_ready; /* spec.publishNotReadyAddresses */
	struct k8s_labels selector;
	struct k8s_service_port *ports;
	size_t n_ports;
	char *external_name; /* spec.externalName, NULL when absent */
	uint8_t (*external_ips)[16];
	size_t n_external_ips;
	/* status.loadBalancer.ingress[].ip of a LoadBalancer Service, except
	 * those with ipMode: Proxy (their traffic must go through the load
	 * balancer, which may terminate TLS or speak PROXY protocol) */
	uint8_t (*lb_ips)[16];
	size_t n_lb_ips;
	uint32_t affinity_timeout_s; /* default 10800 (the API default) */
	/* topology-aware routing asked for: spec.trafficDistribution
	 * PreferClose (or PreferSameZone), or the annotation
	 * service.kubernetes.io/topology-mode (formerly topology-aware-hints)
	 * set to anything but Disabled, as kube-proxy reads them */
	bool topology;
};

struct k8s_ep_port {
	char *name;      /* "" when absent */
	uint16_t port;   /* 0 when absent ("all ports" in the API) */
	uint8_t protocol;
};

struct k8s_endpoint {
	uint8_t addr[16];   /* addresses[0], IPv4-mapped for v4 */
	bool ready;         /* conditions.ready; absent means true (API rule) */
	bool serving;       /* conditions.serving; absent means = ready */
	bool terminating;   /* conditions.terminating; absent means false */
	char *node;         /* nodeName, NULL when absent */
	char *zone;         /* zone, NULL when absent */
	char *hostname;     /* hostname, NULL when absent */
	char *target;       /* targetRef.name, NULL when absent */
	char *zone_hints;   /* hints.forZones[].name joined with ",", or NULL */
};

struct k8s_slice {
	struct k8s_meta meta;
	char *service;        /* label kubernetes.io/service-name, or the
	                         Endpoints object's name */
	bool from_endpoints;  /* converted from a v1 Endpoints subset */
	struct k8s_endpoint *endpoints;
	size_t n_endpoints;
	struct k8s_ep_port *ports;
	size_t n_ports;
};

enum k8s_pod_phase {
	K8S_POD_PENDING,
	K8S_POD_RUNNING,
	K8S_POD_SUCCEEDED,
	K8S_POD_FAILED,
	K8S_POD_UNKNOWN,
};

struct k8s_container_port {
	char *name;     /* "" when absent */
	uint16_t port;  /* containerPort */
	uint8_t protocol;
};

struct k8s_pod {
	struct k8s_meta meta;
	struct k8s_labels labels; /* metadata.labels: the only kind whose are
	                             kept (selectors match them); the others'
	                             are read while parsing (mf_meta) */
	uint8_t (*ips)[16]; /* status.podIPs[].ip, else status.podIP */
	size_t n_ips;
	char *node;         /* spec.nodeName, NULL when absent */
	char *hostname;     /* spec.hostname, NULL when absent */
	char *subdomain;    /* spec.subdomain, NULL when absent */
	bool ready;         /* status.conditions[type=Ready].status == "True" */
	enum k8s_pod_phase phase; /* status.phase, PENDING when absent */
	struct k8s_container_port *ports; /* all containers' ports, in order */
	size_t n_ports;
};

/* A Node: only what topology-aware routing needs of it. */
struct k8s_node {
	struct k8s_meta meta;
	char *zone;         /* label topology.kubernetes.io/zone, NULL when absent */
};

/* A Gateway API TCPRoute, what GAMMA (routes attached to a Service) uses
 * of it: the Services it attaches to and the first rule's backendRefs. */
struct k8s_parent_ref {
	char *ns;        /* parentRef namespace, the route's when absent */
	char *name;
	uint16_t port;   /* 0: every port of the Service */
};

struct k8s_backend_ref {
	char *ns;        /* namespace, the route's when absent */
	char *name;
	uint16_t port;   /* required for a Service */
	uint32_t weight; /* default 1, 0..1,000,000 */
	bool refused;    /* not a core Service, or in another namespace
	                    (needs a ReferenceGrant, which ldmesh does not
	                    read): its share of connects is rejected */
};

struct k8s_tcproute {
	struct k8s_meta meta;
	struct k8s_parent_ref *parents; /* kind Service only; others skipped */
	size_t n_parents;
	struct k8s_backend_ref *refs;   /* spec.rules[0].backendRefs */
	size_t n_refs;
};

struct manifest_set {
	struct k8s_service *services;
	struct k8s_slice *slices;
	struct k8s_pod *pods;
	struct k8s_node *nodes;
	struct k8s_tcproute *routes; /* TCPRoutes (manifest_tcproute.c) */
	/* Counts fit 32 bits (a file is at most MANIFEST_MAX_FILE_BYTES, an
	 * object more than a byte of it; mf_grow refuses more anyway). The
	 * set heads every file's allocation: 72 bytes, not 104 (56 before
	 * TCPRoutes). */
	uint32_t n_services;
	uint32_t n_slices;
	uint32_t n_pods;
	uint32_t n_nodes;
	uint32_t n_routes;
	uint32_t skipped; /* documents of other kinds */
	bool packed;      /* everything above lives in one allocation
	                     (manifest_pack.c), which starts at the first
	                     of the four arrays that is not NULL */
};

/*
 * Parse one file. YAML or JSON (libyaml reads both), multi-document
 * streams, kind: List. Returns 0 and fills *out (caller-owned, release with
 * manifest_set_free) when the whole file is valid; otherwise reports every
 * problem found through `d`, returns -EINVAL (or -errno for I/O, also
 * reported) and leaves *out untouched.
 */
int manifest_load_file(const char *path, struct manifest_set *out,
		       struct diag *d);

/* The same for bytes in memory; `name` stands for the path in messages. */
int manifest_load_data(const char *name, const char *data, size_t len,
		       struct manifest_set *out, struct diag *d);

/* Deep free; accepts NULL and zeroes the set. */
void manifest_set_free(struct manifest_set *set);

/*
 * A file's objects as the agent keeps them for its life: the set, all it
 * points to and a copy of the path it stands for, in one allocation that
 * starts with the set (one malloc a file). Read-only; release with
 * manifest_kept_free, never manifest_set_free.
 *
 * manifest_load_kept_fd loads a file the caller opened (and closes) into
 * a kept set (*out, the path's copy in *kept_path; `path` names it in
 * messages and in the kept set); it also fails with -ENOMEM (reported)
 * when the set parsed but could not be kept.
 */
int manifest_load_kept_fd(int fd, const char *path, const struct manifest_set **out,
			  const char **kept_path, struct diag *d);

/* `set` (from manifest_load_*) moved into a kept set standing for `path`:
 * 0, `set` freed; or -ENOMEM, `set` untouched. */
int manifest_set_keep(struct manifest_set *set, const char *path,
		      const struct manifest_set **out, const char **kept_path);

/* Accepts NULL and &manifest_set_empty (which is not freed). */
void manifest_kept_free(const struct manifest_set *kept);

/* A set with no objects, for as long as the program runs. */
extern const struct manifest_set manifest_set_empty;

/*
 * What the agent's flags add to the API server's own checks: set once at
 * start, applied by every load after it (a saved last good copy is parsed
 * again, so it meets the policy in force too). Without one, the parser
 * checks what the API server's validation alone checks.
 */
#define MANIFEST_EXTIP_MAX_NETS 16
enum manifest_extip_mode {
	MANIFEST_EXTIP_DENY,  /* every spec.externalIPs entry left out */
	MANIFEST_EXTIP_ALLOW, /* every one kept */
	MANIFEST_EXTIP_NETS,  /* those inside one of `nets` kept */
};
struct manifest_policy {
	/* --service-cidr: a clusterIP that is one's network address (or an
	 * IPv4 one's broadcast address) is an error, as the API server
	 * refuses it (its allocator never hands them out). n == 0: none. */
	struct ipalloc_cidrs cidrs;
	/* --external-ips, as the DenyServiceExternalIPs admission plugin:
	 * any Service author could otherwise take over an outside address
	 * for every pod on the node (CVE-2020-8554). An address refused is
	 * left out of the Service with one warning per Service; the rest of
	 * the Service is applied. */
	enum manifest_extip_mode extip_mode;
	struct ipalloc_cidr extip_nets[MANIFEST_EXTIP_MAX_NETS];
	unsigned n_extip_nets;
};

/* "deny", "allow", or "CIDR[,CIDR...]" (a bare address is a /32 or /128)
 * into out's external-IP fields. 0 or -EINVAL. */
int manifest_parse_extip_policy(const char *text, struct manifest_policy *out);

/* The policy every later load applies (copied); NULL: none. */
void manifest_set_policy(const struct manifest_policy *p);

/* "IPv4 dotted quad or IPv6 text" -> 16 bytes (v4 mapped). 0 or -EINVAL. */
int manifest_parse_ip(const char *text, uint8_t out[16]);

#endif
