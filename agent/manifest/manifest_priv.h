/* SPDX-License-Identifier: MIT */
/*
 * Internals of the manifest parser, shared by manifest*.c only: the parse
 * context, typed field readers that report "path:line:col: field: message",
 * and the Kubernetes name rules.
 */
#ifndef LDMESH_AGENT_MANIFEST_PRIV_H
#define LDMESH_AGENT_MANIFEST_PRIV_H

#include "manifest.h"
#include "yaml_tree.h"

typedef struct yaml_tree_node mf_node;

enum mf_kind {
	MF_SERVICE,
	MF_ENDPOINT_SLICE,
	MF_ENDPOINTS,
	MF_POD,
	MF_NODE,
	MF_TCPROUTE,
};

struct mf_seen {
	enum mf_kind kind;
	const char *ns, *name; /* borrowed from the set being built */
	uint32_t line, col;
	size_t order;
};

struct mf_ctx {
	const char *name; /* the path, in messages */
	struct diag *d;
	unsigned errors;
	struct manifest_set set;
	size_t cap_services, cap_slices, cap_pods, cap_nodes, cap_routes;
	struct mf_seen *seen;
	size_t n_seen, cap_seen;
};

/* Report a problem at `at` (or at no place when NULL); counts an error. */
void mf_error(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A problem that leaves something out but not the file (the diag's
 * `warn`, else its `report`); counts no error. */
void mf_warn(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The policy manifest_set_policy installed, or NULL. */
const struct manifest_policy *mf_policy(void);
/* Say what was passed over at `at` (not an error; the diag's `note`). */
void mf_note(struct mf_ctx *c, const mf_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "parent.key" and "parent.key[i]" into buf (always terminated). */
const char *mf_path(char *buf, size_t size, const char *parent,
		    const char *key);
const char *mf_path_i(char *buf, size_t size, const char *parent,
		      const char *key, size_t i);
#define MF_PATH_MAX 192

/* What a scalar means once YAML 1.2 core resolution has run on it. */
enum mf_scalar {
	MF_S_NULL,
	MF_S_BOOL,
	MF_S_INT,
	MF_S_FLOAT,
	MF_S_STR,
};
enum mf_scalar mf_scalar_type(const mf_node *n);
/* "a map", "the integer 80", "the string \"x\"" for messages. */
const char *mf_describe(const mf_node *n, char *buf, size_t size);

/*
 * Typed readers of map[key]. Each returns 1 when the value is present and
 * well typed, 0 when absent (or YAML null, which the API treats as absent),
 * -EINVAL when present but wrong (already reported, naming `path.key`), or
 * -ENOMEM. Outputs are written only on 1.
 */
int mf_get_map(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const mf_node **out);
int mf_get_seq(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const mf_node **out);
/* A string scalar; `at` (optional) receives its node for later messages. */
int mf_get_str(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, const char **out, const mf_node **at);
int mf_get_strdup(struct mf_ctx *c, const mf_node *map, const char *path,
		  const char *key, char **out);
int mf_get_int(struct mf_ctx *c, const mf_node *map, const char *path,
	       const char *key, long long *out, const mf_node **at);
int mf_get_bool(struct mf_ctx *c, const mf_node *map, const char *path,
		const char *key, bool *out);
/* The node itself must be a string (sequence items). */
int mf_as_str(struct mf_ctx *c, const mf_node *n, const char *path,
	      const char **out);
int mf_as_map(struct mf_ctx *c, const mf_node *n, const char *path);

/* A port's optional `name` (Service, EndpointSlice and Endpoints ports):
 * a DNS-1123 label. *out is a heap copy, "" when absent or wrong; returns
 * as the readers do, -ENOMEM only when nothing was stored. */
int mf_port_name(struct mf_ctx *c, const mf_node *pm, const char *path,
		 char **out);

#define MF_PORT_REQUIRED (1U << 0) /* absent is "Required value" */
#define MF_PORT_ZERO_OK (1U << 1)  /* an explicit 0 means "unset" */
/*
 * A port number 1..65535 (0 only with MF_PORT_ZERO_OK). Returns as the
 * readers do; *out is 0 when absent.
 */
int mf_get_port(struct mf_ctx *c, const mf_node *map, const char *path,
		const char *key, unsigned flags, uint16_t *out);
/* TCP (the API default when absent), UDP or SCTP -> LDMESH_PROTO_*. */
int mf_get_protocol(struct mf_ctx *c, const mf_node *map, const char *path,
		    const char *key, uint8_t *out);
/* An IP text (manifest_parse_ip) at map[key] or at node n. */
int mf_get_ip(struct mf_ctx *c, const mf_node *map, const char *path,
	      const char *key, uint8_t out[16]);
int mf_as_ip(struct mf_ctx *c, const mf_node *n, const char *path,
	     uint8_t out[16]);
bool mf_ip_is_v4(const uint8_t ip[16]);
/* RFC 3339 ("2024-05-01T10:00:00Z", "...+02:00") to Unix seconds; 0 or -EINVAL. */
int mf_parse_time(const char *s, int64_t *out);

/* Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation). */
bool mf_is_dns1123_label(const char *s);
bool mf_is_dns1035_label(const char *s);
bool mf_is_dns1123_subdomain(const char *s);
bool mf_is_iana_svc_name(const char *s);
bool mf_is_label_key(const char *s);
bool mf_is_label_value(const char *s);

enum mf_name_rule {
	MF_NAME_DNS1123_SUBDOMAIN,
	MF_NAME_DNS1035_LABEL,
};

/* metadata: name (by `rule`), namespace, labels (into *labels, may be
 * NULL: checked only), deletionTimestamp. */
int mf_meta(struct mf_ctx *c, const mf_node *obj, enum mf_name_rule rule,
	    struct k8s_meta *m, struct k8s_labels *labels);
int mf_meta_copy(struct k8s_meta *dst, const struct k8s_meta *src);
void mf_meta_free(struct k8s_meta *m);
/* A string->string map validated as labels (or a label selector). */
int mf_labels(struct mf_ctx *c, const mf_node *map, const char *path,
	      struct k8s_labels *out);
void mf_labels_free(struct k8s_labels *l);
const char *mf_label_get(const struct k8s_labels *l, const char *key);

/* Growable arrays: make room for one more element of `size`. */
int mf_grow(void **v, size_t *cap, size_t n, size_t size);
/* The duplicate-object check (manifest_seen.c). `m`'s strings are borrowed
 * until mf_seen_check, so they must be the ones stored in the set. */
int mf_seen_add(struct mf_ctx *c, enum mf_kind kind,
		const struct k8s_meta *m);
void mf_seen_check(struct mf_ctx *c);

/* `set` copied into one allocation (out->packed); 0 or -ENOMEM. */
int mf_pack(const struct manifest_set *set, struct manifest_set *out);
/* The same with the set itself at the start and a copy of `path` in it
 * (*kept_path): NULL when out of memory. */
const struct manifest_set *mf_pack_kept(const struct manifest_set *set, const char *path,
					const char **kept_path);

int mf_service(struct mf_ctx *c, const mf_node *obj);
int mf_endpoint_slice(struct mf_ctx *c, const mf_node *obj);
int mf_endpoints(struct mf_ctx *c, const mf_node *obj);
int mf_pod(struct mf_ctx *c, const mf_node *obj);
int mf_node_obj(struct mf_ctx *c, const mf_node *obj);
int mf_tcproute(struct mf_ctx *c, const mf_node *obj);

void mf_service_free(struct k8s_service *s);
void mf_slice_free(struct k8s_slice *s);
void mf_pod_free(struct k8s_pod *p);
void mf_node_free(struct k8s_node *n);
void mf_tcproute_free(struct k8s_tcproute *r);

#endif
