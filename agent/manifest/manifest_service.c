/* SPDX-License-Identifier: MIT */
/*
 * v1 Service, validated as pkg/apis/core/validation ValidateService does for
 * the fields ldmesh uses, after the defaults of pkg/apis/core/v1/defaults.go.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldmesh/snapshot.h>

/* ServiceAffinityConfig defaults and bounds (DefaultClientIPServiceAffinity
 * Seconds = 3h, MaxClientIPServiceAffinitySeconds = 1 day). */
#define MF_AFFINITY_DEFAULT_S 10800
#define MF_AFFINITY_MAX_S 86400

static struct manifest_policy mf__policy;
static bool mf__have_policy;

void manifest_set_policy(const struct manifest_policy *p)
{
	mf__have_policy = p != NULL;
	if (p)
		mf__policy = *p;
}

const struct manifest_policy *mf_policy(void)
{
	return mf__have_policy ? &mf__policy : NULL;
}

int manifest_parse_extip_policy(const char *text, struct manifest_policy *out)
{
	struct manifest_policy p = *out;
	char one[128];

	if (!strcmp(text, "deny") || !strcmp(text, "allow")) {
		out->extip_mode = text[0] == 'd' ? MANIFEST_EXTIP_DENY : MANIFEST_EXTIP_ALLOW;
		out->n_extip_nets = 0;
		return 0;
	}
	p.extip_mode = MANIFEST_EXTIP_NETS;
	p.n_extip_nets = 0;
	for (const char *t = text;;) {
		size_t len = strcspn(t, ",");

		if (!len || len >= sizeof(one) || p.n_extip_nets == MANIFEST_EXTIP_MAX_NETS)
			return -EINVAL;
		memcpy(one, t, len);
		one[len] = 0;
		if (ipalloc_parse_net(one, &p.extip_nets[p.n_extip_nets++]) < 0)
			return -EINVAL;
		if (!t[len])
			break;
		t += len + 1;
	}
	*out = p;
	return 0;
}

void mf_service_free(struct k8s_service *s)
{
	mf_meta_free(&s->meta);
	mf_labels_free(&s->selector);
	for (size_t i = 0; i < s->n_ports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].target_port_name);
		free(s->ports[i].app_protocol);
	}
	free(s->ports);
	free(s->external_name);
	free(s->external_ips);
	free(s->lb_ips);
	memset(s, 0, sizeof(*s));
}

/* An enum-valued string field: index into `values`, or -1 reported. */
static int mf_enum(struct mf_ctx *c, const mf_node *map, const char *path,
		   const char *key, const char *const *values, int def)
{
	const mf_node *at = NULL;
	const char *s;
	char p[MF_PATH_MAX], list[128] = "";
	int ret = mf_get_str(c, map, path, key, &s, &at);

	if (ret == -ENOMEM)
		return ret;
	if (ret != 1)
		return ret == 0 ? def : -EINVAL;
	for (int i = 0; values[i]; i++)
		if (!strcmp(s, values[i]))
			return i;
	for (int i = 0; values[i]; i++) {
		size_t n = strlen(list);

		snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "",
			 values[i]);
	}
	mf_error(c, at, "%s: unsupported value \"%.64s\": supported values: %s",
		 mf_path(p, sizeof(p), path, key), s, list);
	return -EINVAL;
}

/*
 * targetPort is an IntOrString. A number 1..65535, or a name that must be
 * an IANA_SVC_NAME; 0 or "" mean "same as port" (SetDefaults_Service).
 */
static int mf_target_port(struct mf_ctx *c, const mf_node *map,
			  const char *path, struct k8s_service_port *sp)
{
	const mf_node *v = yaml_tree_map_get(map, "targetPort");
	char p[MF_PATH_MAX];
	const char *name;
	uint16_t port;
	int ret;

	sp->target_port = sp->port;
	if (yaml_tree_is_null(v))
		return 0;
	mf_path(p, sizeof(p), path, "targetPort");
	if (v->kind == YAML_TREE_SCALAR && mf_scalar_type(v) == MF_S_INT) {
		ret = mf_get_port(c, map, path, "targetPort", MF_PORT_ZERO_OK,
				  &port);
		if (ret == 1 && port)
			sp->target_port = port;
		return ret;
	}
	ret = mf_as_str(c, v, p, &name);
	if (ret != 1 || !*name)
		return ret;
	if (!mf_is_iana_svc_name(name)) {
		mf_error(c, v,
			 "%s: \"%.64s\" is not a valid port name (IANA_SVC_NAME: 1-15 of [-a-z0-9], at least one letter, no leading, trailing or double '-')",
			 p, name);
		return -EINVAL;
	}
	sp->target_port = 0;
	sp->target_port_name = strdup(name);
	return sp->target_port_name ? 1 : -ENOMEM;
}

static int mf_service_port(struct mf_ctx *c, const mf_node *pm,
			   const char *path, uint8_t type, bool require_name,
			   struct k8s_service_port *sp)
{
	int ret = mf_port_name(c, pm, path, &sp->name);

	if (ret == -ENOMEM)
		return ret;
	if (require_name && !*sp->name && ret >= 0)
		mf_error(c, pm, "%s.name: Required value (every port needs a name when there is more than one)",
			 path);

	if (mf_get_protocol(c, pm, path, "protocol", &sp->protocol) == -ENOMEM ||
	    mf_get_port(c, pm, path, "port", MF_PORT_REQUIRED, &sp->port) ==
		    -ENOMEM ||
	    mf_target_port(c, pm, path, sp) == -ENOMEM)
		return -ENOMEM;

	ret = mf_get_port(c, pm, path, "nodePort", MF_PORT_ZERO_OK,
			  &sp->node_port);
	if (ret == -ENOMEM)
		return ret;
	if (sp->node_port && type == LDMESH_SVC_CLUSTER_IP)
		mf_error(c, yaml_tree_map_get(pm, "nodePort"),
			 "%s.nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
			 path);
	ret = mf_get_strdup(c, pm, path, "appProtocol", &sp->app_protocol);
	return ret == -ENOMEM ? ret : 0;
}

static int mf_service_ports(struct mf_ctx *c, const mf_node *spec,
			    struct k8s_service *s)
{
	const mf_node *seq = NULL;
	char p[MF_PATH_MAX];
	int ret;

	ret = mf_get_seq(c, spec, "spec", "ports", &seq);
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	if (!seq->n)
		return 0;
	s->ports = calloc(seq->n, sizeof(*s->ports));
	if (!s->ports)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *pm = seq->child[i];
		struct k8s_service_port *sp = &s->ports[s->n_ports];

		mf_path_i(p, sizeof(p), "spec", "ports", i);
		if (mf_as_map(c, pm, p) < 0)
			continue;
		s->n_ports++;
		ret = mf_service_port(c, pm, p, s->type, seq->n > 1, sp);
		if (ret)
			return ret;
		/* Names and (port, protocol) pairs are unique per Service. */
		for (size_t j = 0; j + 1 < s->n_ports; j++) {
			const struct k8s_service_port *o = &s->ports[j];

			if (*sp->name && !strcmp(o->name, sp->name))
				mf_error(c, pm,
					 "%s.name: Duplicate value: \"%s\"", p,
					 sp->name);
			if (sp->port && o->port == sp->port &&
			    o->protocol == sp->protocol)
				mf_error(c, pm,
					 "%s: Duplicate value: port %u/%s already used",
					 p, sp->port,
					 sp->protocol == LDMESH_PROTO_TCP ? "TCP" :
					 sp->protocol == LDMESH_PROTO_UDP ? "UDP" :
									    "SCTP");
		}
	}
	return 0;
}

/* The API server's allocator never hands out a service CIDR's network
 * address, nor an IPv4 one's broadcast address, and refuses them as a
 * clusterIP ("the provided IP is not in the valid range"): 1, or -EINVAL
 * (reported). */
static int mf__cidr_reserved(struct mf_ctx *c, const mf_node *n, const char *path,
			     const char *text, const uint8_t ip[16])
{
	const struct manifest_policy *pol = mf_policy();
	const struct ipalloc_cidr *cidr = NULL;
	const char *which;
	char range[64];

	if (!pol || !(which = ipalloc_cidrs_reserved(&pol->cidrs, ip, &cidr)))
		return 1;
	mf_error(c, n, "%s: Invalid value: \"%.64s\": the %s address of the service CIDR %s "
		 "is not a ClusterIP", path, text, which,
		 ipalloc_format_cidr(cidr, range, sizeof(range)));
	return -EINVAL;
}

/* One clusterIPs entry: "None" (headless) or an IP. */
static int mf_cluster_ip(struct mf_ctx *c, const mf_node *n,
			 const char *path, struct k8s_service *s,
			 bool *none)
{
	const char *text;
	int ret = mf_as_str(c, n, path, &text);

	if (ret != 1)
		return ret;
	if (!strcmp(text, "None")) {
		*none = true;
		return 1;
	}
	if (s->n_cluster_ips >= LDMESH_MAX_CLUSTER_IPS) {
		mf_error(c, n, "%s: Too many: at most two (one per family)",
			 path);
		return -EINVAL;
	}
	ret = mf_as_ip(c, n, path, s->cluster_ips[s->n_cluster_ips]);
	if (ret == 1 && (ret = mf__cidr_reserved(c, n, path, text,
						 s->cluster_ips[s->n_cluster_ips])) == 1)
		s->n_cluster_ips++;
	return ret;
}

/*
 * clusterIP and clusterIPs (validateServiceClusterIPsRelatedFields):
 * clusterIPs[0] must equal clusterIP; "None" stands alone; two IPs must be
 * of two families; ExternalName services have none. "" means "allocate".
 */
static int mf_cluster_ips(struct mf_ctx *c, const mf_node *spec,
			  struct k8s_service *s)
{
	const mf_node *one_at = NULL, *seq = NULL;
	const char *one = NULL;
	bool none = false;
	char p[MF_PATH_MAX];
	int r1, r2;

	r1 = mf_get_str(c, spec, "spec", "clusterIP", &one, &one_at);
	r2 = mf_get_seq(c, spec, "spec", "clusterIPs", &seq);
	if (r1 < 0 || r2 < 0)
		return r1 == -ENOMEM || r2 == -ENOMEM ? -ENOMEM : 0;
	if (seq && !seq->n)
		seq = NULL;
	if (one && !*one)
		one = NULL;
	if ((one || seq) && s->type == LDMESH_SVC_EXTERNAL_NAME) {
		mf_error(c, one ? one_at : seq,
			 "spec.clusterIPs: Forbidden: may not be set for ExternalName services");
		return 0;
	}
	if (one && seq && seq->child[0]->kind == YAML_TREE_SCALAR &&
	    strcmp(seq->child[0]->str, one)) {
		mf_error(c, seq->child[0],
			 "spec.clusterIPs[0]: \"%.64s\" must match clusterIP \"%.64s\"",
			 seq->child[0]->str, one);
		return 0;
	}
	if (!seq) {
		if (one && mf_cluster_ip(c, one_at, "spec.clusterIP", s,
					 &none) == 1)
			s->headless = none;
		return 0;
	}
	for (size_t i = 0; i < seq->n; i++) {
		mf_path_i(p, sizeof(p), "spec", "clusterIPs", i);
		if (mf_cluster_ip(c, seq->child[i], p, s, &none) < 0)
			continue;
		if (none && seq->n > 1) {
			mf_error(c, seq->child[i],
				 "%s: \"None\" must be the only entry", p);
			return 0;
		}
	}
	s->headless = none;
	if (s->n_cluster_ips == 2 &&
	    mf_ip_is_v4(s->cluster_ips[0]) == mf_ip_is_v4(s->cluster_ips[1]))
		mf_error(c, seq->child[1],
			 "spec.clusterIPs[1]: dual-stack IPs must be of different families");
	return 0;
}

static bool mf__external_allowed(const struct manifest_policy *pol, const uint8_t ip[16])
{
	if (pol->extip_mode == MANIFEST_EXTIP_ALLOW)
		return true;
	for (unsigned i = 0; pol->extip_mode == MANIFEST_EXTIP_NETS && i < pol->n_extip_nets; i++)
		if (ipalloc_contains(&pol->extip_nets[i], ip))
			return true;
	return false;
}

/* --external-ips: the addresses the policy refuses are left out of the
 * Service, which is applied without them; one warning per Service names
 * them (the first few) and the rule. */
static void mf__external_policy(struct mf_ctx *c, const mf_node *seq, struct k8s_service *s)
{
	const struct manifest_policy *pol = mf_policy();
	char refused[200] = "", ip[64];
	size_t kept = 0, len = 0, n_refused = 0;

	if (!pol)
		return;
	for (size_t i = 0; i < s->n_external_ips; i++) {
		if (mf__external_allowed(pol, s->external_ips[i])) {
			memmove(s->external_ips[kept++], s->external_ips[i], 16);
			continue;
		}
		if (n_refused++ < 4 && len < sizeof(refused))
			len += (size_t)snprintf(refused + len, sizeof(refused) - len, "%s%s",
						len ? ", " : "",
						ipalloc_format(s->external_ips[i], ip, sizeof(ip)));
	}
	if (!n_refused)
		return;
	s->n_external_ips = kept;
	mf_warn(c, seq, "spec.externalIPs: %s%s refused by --external-ips %s (as the "
		"DenyServiceExternalIPs admission plugin: a Service must not take over outside "
		"addresses for every pod); Service %.64s/%.64s is applied without %s",
		refused, n_refused > 4 ? ", ..." : "",
		pol->extip_mode == MANIFEST_EXTIP_DENY ? "deny" : "(outside its prefixes)",
		s->meta.ns ? s->meta.ns : "default", s->meta.name ? s->meta.name : "",
		n_refused > 1 ? "them" : "it");
}

static int mf_external_ips(struct mf_ctx *c, const mf_node *spec,
			   struct k8s_service *s)
{
	const mf_node *seq = NULL;
	char p[MF_PATH_MAX];
	int ret = mf_get_seq(c, spec, "spec", "externalIPs", &seq);

	if (ret != 1 || !seq->n)
		return ret == -ENOMEM ? ret : 0;
	s->external_ips = calloc(seq->n, sizeof(*s->external_ips));
	if (!s->external_ips)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		mf_path_i(p, sizeof(p), "spec", "externalIPs", i);
		if (mf_as_ip(c, seq->child[i], p,
			     s->external_ips[s->n_external_ips]) == 1)
			s->n_external_ips++;
	}
	mf__external_policy(c, seq, s);
	return 0;
}

static int mf_affinity(struct mf_ctx *c, const mf_node *spec,
		       struct k8s_service *s)
{
	static const char *const kinds[] = { "None", "ClientIP", NULL };
	const mf_node *cfg = NULL, *cip = NULL, *at = NULL;
	long long t;
	int aff, ret;

	s->affinity_timeout_s = MF_AFFINITY_DEFAULT_S;
	aff = mf_enum(c, spec, "spec", "sessionAffinity", kinds, 0);
	if (aff == -ENOMEM)
		return aff;
	s->affinity_client_ip = aff == 1;
	ret = mf_get_map(c, spec, "spec", "sessionAffinityConfig", &cfg);
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	if (aff == 0) {
		mf_error(c, cfg,
			 "spec.sessionAffinityConfig: Forbidden: must not be set when `sessionAffinity` is None");
		return 0;
	}
	ret = mf_get_map(c, cfg, "spec.sessionAffinityConfig", "clientIP",
			 &cip);
	if (ret == 1)
		ret = mf_get_int(c, cip, "spec.sessionAffinityConfig.clientIP",
				 "timeoutSeconds", &t, &at);
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	if (t < 1 || t > MF_AFFINITY_MAX_S) {
		mf_error(c, at,
			 "spec.sessionAffinityConfig.clientIP.timeoutSeconds: %s is out of range (1-86400)",
			 at->str);
		return 0;
	}
	s->affinity_timeout_s = (uint32_t)t;
	return 0;
}

static int mf_external_name(struct mf_ctx *c, const mf_node *spec,
			    struct k8s_service *s)
{
	const mf_node *at = NULL;
	const char *name;
	char clean[256];
	size_t n;
	int ret = mf_get_str(c, spec, "spec", "externalName", &name, &at);

	if (ret < 0)
		return ret == -ENOMEM ? ret : 0;
	if (s->type != LDMESH_SVC_EXTERNAL_NAME)
		return 0; /* ignored by the API for other types */
	if (ret == 0 || !*name) {
		mf_error(c, spec, "spec.externalName: Required value (type is ExternalName)");
		return 0;
	}
	/* A trailing dot (fully qualified) is accepted by the API. */
	n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		n--;
	snprintf(clean, sizeof(clean), "%.*s", (int)(n < 255 ? n : 255), name);
	if (n > 253 || !mf_is_dns1123_subdomain(clean)) {
		mf_error(c, at,
			 "spec.externalName: \"%.64s\" is not a valid DNS-1123 subdomain",
			 name);
		return 0;
	}
	s->external_name = strdup(name);
	return s->external_name ? 0 : -ENOMEM;
}

static int mf_service_spec(struct mf_ctx *c, const mf_node *spec,
			   struct k8s_service *s)
{
	static const char *const types[] = {
		[LDMESH_SVC_CLUSTER_IP] = "ClusterIP",
		[LDMESH_SVC_NODE_PORT] = "NodePort",
		[LDMESH_SVC_LOAD_BALANCER] = "LoadBalancer",
		[LDMESH_SVC_EXTERNAL_NAME] = "ExternalName",
		NULL,
	};
	static const char *const policies[] = { "Cluster", "Local", NULL };
	const mf_node *sel = NULL;
	bool b;
	int ret;

	ret = mf_enum(c, spec, "spec", "type", types, LDMESH_SVC_CLUSTER_IP);
	if (ret == -ENOMEM)
		return ret;
	s->type = ret < 0 ? LDMESH_SVC_CLUSTER_IP : (uint8_t)ret;

	if (mf_cluster_ips(c, spec, s) || mf_service_ports(c, spec, s) ||
	    mf_external_ips(c, spec, s) || mf_affinity(c, spec, s) ||
	    mf_external_name(c, spec, s))
		return -ENOMEM;

	/* An empty selector selects nothing, as no selector does: the
	 * endpoints controller skips both. */
	ret = mf_get_map(c, spec, "spec", "selector", &sel);
	if (ret == 1)
		ret = mf_labels(c, sel, "spec.selector", &s->selector);
	if (ret == -ENOMEM)
		return ret;
	s->has_selector = s->selector.n > 0;

	ret = mf_enum(c, spec, "spec", "internalTrafficPolicy", policies, 0);
	if (ret == -ENOMEM)
		return ret;
	s->internal_local = ret == 1;
	ret = mf_enum(c, spec, "spec", "externalTrafficPolicy", policies, 0);
	if (ret == -ENOMEM)
		return ret;
	s->external_local = ret == 1;
	ret = mf_get_bool(c, spec, "spec", "publishNotReadyAddresses", &b);
	if (ret == 1)
		s->publish_not_ready = b;

	if (!s->n_ports && !s->headless &&
	    s->type != LDMESH_SVC_EXTERNAL_NAME &&
	    !yaml_tree_map_get(spec, "ports"))
		mf_error(c, spec, "spec.ports: Required value");
	return 0;
}

/*
 * status.loadBalancer.ingress: the addresses a cloud load balancer answers
 * on. A pod's connect to one goes straight to the endpoints, as kube-proxy
 * and Cilium do, unless ipMode is Proxy (KEP-1860). Entries with a hostname
 * and no ip name nothing to redirect.
 */
static int mf_lb_ingress(struct mf_ctx *c, const mf_node *obj, struct k8s_service *s)
{
	static const char *const modes[] = { "VIP", "Proxy", NULL };
	const mf_node *status = NULL, *lb = NULL, *seq = NULL;
	char p[MF_PATH_MAX];
	int ret;

	if (s->type != LDMESH_SVC_LOAD_BALANCER)
		return 0;
	if ((ret = mf_get_map(c, obj, "", "status", &status)) != 1 ||
	    (ret = mf_get_map(c, status, "status", "loadBalancer", &lb)) != 1 ||
	    (ret = mf_get_seq(c, lb, "status.loadBalancer", "ingress", &seq)) != 1 || !seq->n)
		return ret == -ENOMEM ? ret : 0;
	s->lb_ips = calloc(seq->n, sizeof(*s->lb_ips));
	if (!s->lb_ips)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *in = seq->child[i];
		int mode;

		mf_path_i(p, sizeof(p), "status.loadBalancer", "ingress", i);
		if (mf_as_map(c, in, p) != 1 || !yaml_tree_map_get(in, "ip"))
			continue;
		mode = mf_enum(c, in, p, "ipMode", modes, 0);
		if (mode == -ENOMEM)
			return mode;
		if (mode == 1)
			continue;
		ret = mf_get_ip(c, in, p, "ip", s->lb_ips[s->n_lb_ips]);
		if (ret == -ENOMEM)
			return ret;
		if (ret == 1)
			s->n_lb_ips++;
	}
	return 0;
}

/* Whether the Service asks for topology-aware routing, as kube-proxy
 * decides it: spec.trafficDistribution PreferClose (PreferSameZone is its
 * newer name), or the topology annotation (any value but "", "disabled" and
 * "Disabled"). */
static int mf_topology(struct mf_ctx *c, const mf_node *obj, const mf_node *spec,
		       struct k8s_service *s)
{
	static const char *const annotations[] = {
		"service.kubernetes.io/topology-mode",
		"service.kubernetes.io/topology-aware-hints",
	};
	const mf_node *meta = NULL, *ann = NULL;
	const char *v = NULL;
	int ret = mf_get_str(c, spec, "spec", "trafficDistribution", &v, NULL);

	if (ret == -ENOMEM)
		return ret;
	if (ret == 1 && (!strcmp(v, "PreferClose") || !strcmp(v, "PreferSameZone")))
		s->topology = true;
	if (mf_get_map(c, obj, "", "metadata", &meta) != 1 ||
	    mf_get_map(c, meta, "metadata", "annotations", &ann) != 1)
		return 0;
	for (size_t i = 0; i < sizeof(annotations) / sizeof(annotations[0]); i++) {
		ret = mf_get_str(c, ann, "metadata.annotations", annotations[i], &v, NULL);
		if (ret == -ENOMEM)
			return ret;
		if (ret == 1 && *v && strcmp(v, "disabled") && strcmp(v, "Disabled"))
			s->topology = true;
	}
	return 0;
}

int mf_service(struct mf_ctx *c, const mf_node *obj)
{
	const mf_node *spec = NULL;
	struct k8s_service *s;
	int ret;

	if (mf_grow((void **)&c->set.services, &c->cap_services,
		    c->set.n_services, sizeof(*s)))
		return -ENOMEM;
	s = &c->set.services[c->set.n_services++];
	ret = mf_meta(c, obj, MF_NAME_DNS1035_LABEL, &s->meta, NULL);
	if (ret == -ENOMEM || mf_seen_add(c, MF_SERVICE, &s->meta))
		return -ENOMEM;
	ret = mf_get_map(c, obj, "", "spec", &spec);
	if (ret == 0)
		mf_error(c, obj, "spec: Required value");
	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	ret = mf_service_spec(c, spec, s);
	if (!ret)
		ret = mf_lb_ingress(c, obj, s);
	return ret ? ret : mf_topology(c, obj, spec, s);
}
