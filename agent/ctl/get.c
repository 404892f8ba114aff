/* SPDX-License-Identifier: MIT */
/*
 * `ldmeshctl get services [NAME]`: kubectl's view of the table. Text is a
 * table with kubectl's column layout (three spaces between columns, no
 * borders); -o wide adds how this node routes each service; -o json and
 * -o yaml write Service objects (kind List without NAME) with the
 * endpoints the table holds for each.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

/* ---- text ---------------------------------------------------------- */

/* kubectl's PORT(S): 80/TCP, 80:30080/TCP with a nodePort */
static void get__ports(const struct ctl *c, const struct ldmesh_service *s, char *buf,
		       size_t len)
{
	buf[0] = 0;
	for (uint32_t p = 0; p < s->port_count; p++) {
		struct ldmesh_port pt;
		size_t used = strlen(buf);
		char node[8] = "";

		ctl_port(c->snap, s->first_port + p, &pt);
		if (pt.node_port)
			snprintf(node, sizeof(node), ":%u", pt.node_port);
		snprintf(buf + used, len - used, "%s%u%s/%s", p ? "," : "", pt.port, node,
			 ctl_proto_name(pt.protocol));
	}
	if (!buf[0])
		snprintf(buf, len, "<none>");
}

/* kubectl get endpoints' cell: the ready addresses with their first port */
static void get__endpoints(const struct ctl *c, const struct ldmesh_service *s, char *buf,
			   size_t len)
{
	char a[64];

	buf[0] = 0;
	for (uint32_t e = 0; e < s->ready_count; e++) {
		uint32_t ep = s->first_endpoint + e;
		struct ldmesh_endpoint en;
		size_t used = strlen(buf);
		bool v6;

		ctl_endpoint(c->snap, ep, &en);
		ctl_addr(en.addr, a, sizeof(a));
		v6 = strchr(a, ':') != NULL;
		snprintf(buf + used, len - used, "%s%s%s%s:%u", e ? "," : "", v6 ? "[" : "", a,
			 v6 ? "]" : "", ldmesh_snap_endpoint_port(c->snap, s, ep, 0));
	}
	if (!buf[0])
		snprintf(buf, len, "<none>");
}

static void get__row(const struct ctl *c, struct ctl_grid *g, const struct ldmesh_service *s)
{
	char ips[128], ports[512], ready[32], eps[4096], why[256];
	const char *row[CTL_GRID_COLS];
	size_t k = 0;

	ctl_ips(c, s, ips, sizeof(ips));
	if (s->type == LDMESH_SVC_EXTERNAL_NAME)
		snprintf(ips, sizeof(ips), "%s", STR(s->external_name));
	get__ports(c, s, ports, sizeof(ports));
	snprintf(ready, sizeof(ready), "%u/%u", s->ready_count, s->endpoint_count);
	if (!c->ns)
		row[k++] = STR(s->ns);
	row[k++] = STR(s->name);
	row[k++] = ctl_type_name(s);
	row[k++] = ips;
	row[k++] = ports;
	row[k++] = ready;
	if (c->output == CTL_OUT_WIDE) {
		row[k++] = s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP ? "ClientIP" : "None";
		row[k++] = s->flags & LDMESH_SVC_F_INTERNAL_LOCAL ? "Local" : "Cluster";
		row[k++] = s->endpoint_count ? ctl_rule(c, s, why, sizeof(why)) : "<none>";
		get__endpoints(c, s, eps, sizeof(eps));
		row[k++] = eps;
	}
	ctl_grid_add(g, row);
}

static int get__text(const struct ctl *c, const uint32_t *order, uint32_t n)
{
	static const char *const head[] = { "NAMESPACE", "NAME", "TYPE", "CLUSTER-IP",
					    "PORT(S)", "READY", "AFFINITY", "TRAFFIC-POLICY",
					    "ROUTING", "ENDPOINTS" };
	struct ctl_grid g = { .cols = 5 + !c->ns + (c->output == CTL_OUT_WIDE ? 4 : 0) };
	int err = 0;

	ctl_grid_add(&g, head + !!c->ns);
	for (uint32_t k = 0; k < n; k++) {
		struct ldmesh_service s;

		ctl_service(c->snap, order[k], &s);
		get__row(c, &g, &s);
	}
	if (g.oom) {
		fprintf(stderr, "ldmeshctl: out of memory\n");
		err = 1;
	} else {
		ctl_grid_print(&g, c->out);
	}
	ctl_grid_free(&g);
	return err;
}

/* ---- json, yaml ---------------------------------------------------- */

static void get__port_doc(const struct ctl *c, struct doc *d, const struct ldmesh_port *pt)
{
	doc_map(d);
	if (*STR(pt->name))
		doc_key(d, "name"), doc_str(d, STR(pt->name));
	doc_key(d, "protocol"), doc_str(d, ctl_proto_name(pt->protocol));
	if (*STR(pt->app_protocol))
		doc_key(d, "appProtocol"), doc_str(d, STR(pt->app_protocol));
	doc_key(d, "port"), doc_u64(d, pt->port);
	doc_key(d, "targetPort");
	if (*STR(pt->target_port_name))
		doc_str(d, STR(pt->target_port_name));
	else
		doc_u64(d, pt->target_port);
	if (pt->node_port)
		doc_key(d, "nodePort"), doc_u64(d, pt->node_port);
	doc_map_end(d);
}

static void get__spec(const struct ctl *c, struct doc *d, const struct ldmesh_service *s)
{
	char a[64];

	doc_key(d, "spec"), doc_map(d);
	doc_key(d, "type"), doc_str(d, ctl_type_name(s));
	if (s->type == LDMESH_SVC_EXTERNAL_NAME) {
		doc_key(d, "externalName"), doc_str(d, STR(s->external_name));
	} else if (s->flags & LDMESH_SVC_F_HEADLESS) {
		doc_key(d, "clusterIP"), doc_str(d, "None");
	} else if (s->ip_count) {
		doc_key(d, "clusterIP"), doc_str(d, ctl_addr(s->cluster_ips[0], a, sizeof(a)));
		doc_key(d, "clusterIPs"), doc_seq(d);
		for (uint8_t k = 0; k < s->ip_count; k++)
			doc_str(d, ctl_addr(s->cluster_ips[k], a, sizeof(a)));
		doc_seq_end(d);
	}
	doc_key(d, "ports"), doc_seq(d);
	for (uint32_t p = 0; p < s->port_count; p++) {
		struct ldmesh_port pt;

		ctl_port(c->snap, s->first_port + p, &pt);
		get__port_doc(c, d, &pt);
	}
	doc_seq_end(d);
	doc_key(d, "sessionAffinity");
	doc_str(d, s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP ? "ClientIP" : "None");
	if (s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) {
		doc_key(d, "sessionAffinityConfig"), doc_map(d);
		doc_key(d, "clientIP"), doc_map(d);
		doc_key(d, "timeoutSeconds"), doc_u64(d, s->affinity_timeout_s);
		doc_map_end(d), doc_map_end(d);
	}
	doc_key(d, "internalTrafficPolicy");
	doc_str(d, s->flags & LDMESH_SVC_F_INTERNAL_LOCAL ? "Local" : "Cluster");
	if (s->type == LDMESH_SVC_NODE_PORT || s->type == LDMESH_SVC_LOAD_BALANCER) {
		doc_key(d, "externalTrafficPolicy");
		doc_str(d, s->flags & LDMESH_SVC_F_EXTERNAL_LOCAL ? "Local" : "Cluster");
	}
	doc_key(d, "publishNotReadyAddresses");
	doc_bool(d, s->flags & LDMESH_SVC_F_PUBLISH_NOT_READY);
	doc_map_end(d);
}

/* hints.forZones from the comma-separated list the table keeps */
static void get__hints(struct doc *d, const char *zones)
{
	doc_key(d, "hints"), doc_map(d);
	doc_key(d, "forZones"), doc_seq(d);
	while (*zones) {
		size_t n = strcspn(zones, ",");
		char z[LDMESH_STR_MAX + 1];

		snprintf(z, sizeof(z), "%.*s", (int)n, zones);
		doc_map(d), doc_key(d, "name"), doc_str(d, z), doc_map_end(d);
		zones += n + (zones[n] == ',');
	}
	doc_seq_end(d);
	doc_map_end(d);
}

/* One endpoint as an EndpointSlice writes it, with the ports it serves. */
static void get__endpoint_doc(const struct ctl *c, struct doc *d,
			      const struct ldmesh_service *s, uint32_t ep)
{
	struct ldmesh_endpoint en;
	char a[64];

	ctl_endpoint(c->snap, ep, &en);
	doc_map(d);
	doc_key(d, "addresses"), doc_seq(d), doc_str(d, ctl_addr(en.addr, a, sizeof(a)));
	doc_seq_end(d);
	doc_key(d, "conditions"), doc_map(d);
	doc_key(d, "ready"), doc_bool(d, en.flags & LDMESH_EP_F_READY);
	doc_key(d, "serving"), doc_bool(d, en.flags & LDMESH_EP_F_SERVING);
	doc_key(d, "terminating"), doc_bool(d, en.flags & LDMESH_EP_F_TERMINATING);
	if (en.flags & LDMESH_EP_F_EJECTED) /* not Kubernetes': the agent's probe */
		doc_key(d, "ejected"), doc_bool(d, true);
	doc_map_end(d);
	if (*STR(en.hostname))
		doc_key(d, "hostname"), doc_str(d, STR(en.hostname));
	if (*STR(en.node))
		doc_key(d, "nodeName"), doc_str(d, STR(en.node));
	if (*STR(en.zone))
		doc_key(d, "zone"), doc_str(d, STR(en.zone));
	if (*STR(en.zone_hints))
		get__hints(d, STR(en.zone_hints));
	if (*STR(en.target)) /* the table keeps targetRef.name only */
		doc_key(d, "targetRef"), doc_map(d), doc_key(d, "name"),
			doc_str(d, STR(en.target)), doc_map_end(d);
	doc_key(d, "ports"), doc_seq(d);
	for (uint32_t p = 0; p < s->port_count; p++) {
		uint16_t port = ldmesh_snap_endpoint_port(c->snap, s, ep, p);
		struct ldmesh_port pt;

		if (!port)
			continue;
		ctl_port(c->snap, s->first_port + p, &pt);
		doc_map(d);
		if (*STR(pt.name))
			doc_key(d, "name"), doc_str(d, STR(pt.name));
		doc_key(d, "port"), doc_u64(d, port);
		doc_key(d, "protocol"), doc_str(d, ctl_proto_name(pt.protocol));
		doc_map_end(d);
	}
	doc_seq_end(d);
	doc_map_end(d);
}

/* Not a Service field either: the backendRefs of the TCPRoute attached
 * (3.5), when there is one. */
static void get__splits(const struct ctl *c, struct doc *d, const struct ldmesh_service *s)
{
	struct ldmesh_split sp;

	if (!s->split_count)
		return;
	doc_key(d, "trafficSplit"), doc_seq(d);
	for (uint32_t k = 0; ldmesh_snap_split(c->snap, s, k, &sp); k++) {
		doc_map(d);
		if (sp.parent_port)
			doc_key(d, "parentPort"), doc_u64(d, sp.parent_port);
		doc_key(d, "backend");
		if (sp.target)
			doc_str(d, STR(sp.target));
		else
			doc_null(d);
		doc_key(d, "port"), doc_u64(d, sp.port);
		doc_key(d, "weight"), doc_u64(d, sp.weight);
		doc_map_end(d);
	}
	doc_seq_end(d);
}

static void get__service_doc(const struct ctl *c, struct doc *d, uint32_t i)
{
	struct ldmesh_service s;

	ctl_service(c->snap, i, &s);
	doc_map(d);
	doc_key(d, "apiVersion"), doc_str(d, "v1");
	doc_key(d, "kind"), doc_str(d, "Service");
	doc_key(d, "metadata"), doc_map(d);
	doc_key(d, "name"), doc_str(d, STR(s.name));
	doc_key(d, "namespace"), doc_str(d, STR(s.ns));
	doc_map_end(d);
	get__spec(c, d, &s);
	/* not a Service field: what the table holds of its EndpointSlices,
	 * in their shape, in the order the agent chose for this node */
	doc_key(d, "endpoints"), doc_seq(d);
	for (uint32_t e = 0; e < s.endpoint_count; e++)
		get__endpoint_doc(c, d, &s, s.first_endpoint + e);
	doc_seq_end(d);
	get__splits(c, d, &s);
	doc_map_end(d);
}

static int get__doc(const struct ctl *c, const uint32_t *order, uint32_t n, bool list)
{
	char gen[24];
	struct doc d;

	if (doc_begin(&d, c->out, c->output == CTL_OUT_YAML) < 0) {
		fprintf(stderr, "ldmeshctl: out of memory\n");
		return 1;
	}
	if (list) {
		snprintf(gen, sizeof(gen), "%llu", (unsigned long long)c->snap->generation);
		doc_map(&d);
		doc_key(&d, "apiVersion"), doc_str(&d, "v1");
		doc_key(&d, "kind"), doc_str(&d, "List");
		/* the table's generation, where kubectl has the list's version */
		doc_key(&d, "metadata"), doc_map(&d);
		doc_key(&d, "resourceVersion"), doc_str(&d, gen);
		doc_map_end(&d);
		doc_key(&d, "items"), doc_seq(&d);
	}
	for (uint32_t k = 0; k < n; k++)
		get__service_doc(c, &d, order[k]);
	if (list)
		doc_seq_end(&d), doc_map_end(&d);
	if (doc_finish(&d) < 0) {
		fprintf(stderr, "ldmeshctl: writing the output: %s\n", strerror(EIO));
		return 1;
	}
	return 0;
}

int ctl_get_services(const struct ctl *c, const char *name)
{
	uint32_t n, *order = ctl_select(c, name, &n);
	int rc;

	if (!order) {
		fprintf(stderr, "ldmeshctl: out of memory\n");
		return 1;
	}
	if (!n && (name || c->output == CTL_OUT_TEXT || c->output == CTL_OUT_WIDE))
		rc = ctl_none_found(c, name);
	else if (c->output == CTL_OUT_JSON || c->output == CTL_OUT_YAML)
		rc = get__doc(c, order, n, !name);
	else
		rc = get__text(c, order, n);
	free(order);
	return rc;
}
