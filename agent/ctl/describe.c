/* SPDX-License-Identifier: MIT */
/*
 * `ldmeshctl describe service [NAME]`: kubectl describe's layout (a label
 * column, then per port its target and endpoints), then what only the
 * table knows: each endpoint's conditions, node, zone and zone hints, and
 * which rule picks the backends on this node.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

#define LABEL "%-26s" /* kubectl describe's label column */

static void describe__ips(const struct ctl *c, const struct ldmesh_service *s)
{
	char ips[128];

	if (s->type == LDMESH_SVC_EXTERNAL_NAME) {
		fprintf(c->out, LABEL "%s\n", "External Name:", STR(s->external_name));
		return;
	}
	ctl_ips(c, s, ips, sizeof(ips));
	fprintf(c->out, LABEL "%s\n", "IPs:", ips);
}

/* kubectl's "Endpoints:" of one port: ready addresses with that port */
static void describe__port_endpoints(const struct ctl *c, const struct ldmesh_service *s,
				     uint32_t p)
{
	char a[64];
	bool any = false;

	fprintf(c->out, LABEL, "Endpoints:");
	for (uint32_t e = 0; e < s->ready_count; e++) {
		uint32_t ep = s->first_endpoint + e;
		uint16_t port = ldmesh_snap_endpoint_port(c->snap, s, ep, p);
		struct ldmesh_endpoint en;

		if (!port)
			continue;
		ctl_endpoint(c->snap, ep, &en);
		ctl_addr(en.addr, a, sizeof(a));
		fprintf(c->out, "%s%s%s%s:%u", any ? "," : "", strchr(a, ':') ? "[" : "", a,
			strchr(a, ':') ? "]" : "", port);
		any = true;
	}
	fprintf(c->out, "%s\n", any ? "" : "<none>");
}

static void describe__ports(const struct ctl *c, const struct ldmesh_service *s)
{
	for (uint32_t p = 0; p < s->port_count; p++) {
		struct ldmesh_port pt;
		const char *name;

		ctl_port(c->snap, s->first_port + p, &pt);
		name = *STR(pt.name) ? STR(pt.name) : "<unset>";
		fprintf(c->out, LABEL "%s  %u/%s\n", "Port:", name, pt.port,
			ctl_proto_name(pt.protocol));
		if (*STR(pt.target_port_name))
			fprintf(c->out, LABEL "%s/%s\n", "TargetPort:", STR(pt.target_port_name),
				ctl_proto_name(pt.protocol));
		else
			fprintf(c->out, LABEL "%u/%s\n", "TargetPort:", pt.target_port,
				ctl_proto_name(pt.protocol));
		if (pt.node_port)
			fprintf(c->out, LABEL "%s  %u/%s\n", "NodePort:", name, pt.node_port,
				ctl_proto_name(pt.protocol));
		describe__port_endpoints(c, s, p);
	}
}

static void describe__policies(const struct ctl *c, const struct ldmesh_service *s)
{
	char why[256];

	if (s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP)
		fprintf(c->out, LABEL "ClientIP (timeout %u s)\n", "Session Affinity:",
			s->affinity_timeout_s);
	else
		fprintf(c->out, LABEL "None\n", "Session Affinity:");
	fprintf(c->out, LABEL "%s\n", "Internal Traffic Policy:",
		s->flags & LDMESH_SVC_F_INTERNAL_LOCAL ? "Local" : "Cluster");
	if (s->type == LDMESH_SVC_NODE_PORT || s->type == LDMESH_SVC_LOAD_BALANCER)
		fprintf(c->out, LABEL "%s\n", "External Traffic Policy:",
			s->flags & LDMESH_SVC_F_EXTERNAL_LOCAL ? "Local" : "Cluster");
	if (s->flags & LDMESH_SVC_F_PUBLISH_NOT_READY)
		fprintf(c->out, LABEL "true\n", "Publish Not Ready:");
	fprintf(c->out, LABEL "%s\n", "Topology-Aware Routing:",
		!(s->flags & LDMESH_SVC_F_TOPOLOGY) ? "not asked for" :
		s->flags & LDMESH_SVC_F_ZONE_CHOSEN ? "asked for, in use" :
						       "asked for, not in use");
	if (s->type != LDMESH_SVC_EXTERNAL_NAME)
		fprintf(c->out, LABEL "%s\n", "Routing On This Node:",
			s->endpoint_count ? (ctl_rule(c, s, why, sizeof(why)), why) :
					    "no endpoints: a connect is refused");
}

/* Every endpoint the table holds, chosen or not, with its conditions. */
static void describe__endpoints(const struct ctl *c, const struct ldmesh_service *s)
{
	static const char *const head[] = { "ADDRESS", "READY", "SERVING", "TERMINATING",
					    "NODE", "ZONE", "HINTS", "POD" };
	struct ctl_grid g = { .cols = 8, .indent = "  " }; /* nested under the label */
	char a[64];

	fprintf(c->out, "Endpoint Details:%s\n", s->endpoint_count ? "" : "  <none>");
	/* READY "ejected": ready, but the agent's own probe of it failed */
	if (!s->endpoint_count)
		return;
	ctl_grid_add(&g, head);
	for (uint32_t e = 0; e < s->endpoint_count; e++) {
		struct ldmesh_endpoint en;

		ctl_endpoint(c->snap, s->first_endpoint + e, &en);
		const char *row[] = {
			ctl_addr(en.addr, a, sizeof(a)),
			en.flags & LDMESH_EP_F_EJECTED ? "ejected"
			: en.flags & LDMESH_EP_F_READY ? "true" : "false",
			en.flags & LDMESH_EP_F_SERVING ? "true" : "false",
			en.flags & LDMESH_EP_F_TERMINATING ? "true" : "false",
			*STR(en.node) ? STR(en.node) : "<none>",
			*STR(en.zone) ? STR(en.zone) : "<none>",
			*STR(en.zone_hints) ? STR(en.zone_hints) : "<none>",
			*STR(en.target) ? STR(en.target) : "<none>",
		};
		ctl_grid_add(&g, row);
	}
	if (g.oom)
		fprintf(c->out, "  (out of memory)\n");
	else
		ctl_grid_print(&g, c->out);
	ctl_grid_free(&g);
}

/* A TCPRoute attached to the service (3.5): each backendRef, its weight
 * and its share of the connects to the parent port it applies to. */
static void describe__splits(const struct ctl *c, const struct ldmesh_service *s)
{
	struct ldmesh_split sp;
	char port[16];

	if (!s->split_count)
		return;
	fprintf(c->out, LABEL "%s\n", "Traffic Split:",
		"a TCPRoute: each connect to a backend Service by weight");
	for (uint32_t k = 0; ldmesh_snap_split(c->snap, s, k, &sp); k++) {
		uint64_t total = 0;
		struct ldmesh_split o;

		for (uint32_t j = 0; ldmesh_snap_split(c->snap, s, j, &o); j++)
			total += o.parent_port == sp.parent_port ? o.weight : 0;
		snprintf(port, sizeof(port), "%u", sp.parent_port);
		fprintf(c->out, "  port %s -> %s:%u  weight %u (%.1f%%)\n",
			sp.parent_port ? port : "(all)",
			sp.target ? STR(sp.target) : "(refused: not a Service of the route's namespace)",
			sp.port, sp.weight, total ? 100.0 * sp.weight / (double)total : 0.0);
	}
}

static void describe__service(const struct ctl *c, uint32_t i)
{
	struct ldmesh_service s;

	ctl_service(c->snap, i, &s);
	fprintf(c->out, LABEL "%s\n", "Name:", STR(s.name));
	fprintf(c->out, LABEL "%s\n", "Namespace:", STR(s.ns));
	fprintf(c->out, LABEL "%s\n", "Type:", ctl_type_name(&s));
	describe__ips(c, &s);
	describe__ports(c, &s);
	describe__policies(c, &s);
	describe__splits(c, &s);
	describe__endpoints(c, &s);
}

int ctl_describe_services(const struct ctl *c, const char *name)
{
	uint32_t n, *order = ctl_select(c, name, &n);

	if (!order) {
		fprintf(stderr, "ldmeshctl: out of memory\n");
		return 1;
	}
	if (!n) {
		free(order);
		return ctl_none_found(c, name);
	}
	for (uint32_t k = 0; k < n; k++) {
		if (k)
			fputc('\n', c->out);
		describe__service(c, order[k]);
	}
	free(order);
	return 0;
}
