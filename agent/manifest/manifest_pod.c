/* SPDX-License-Identifier: MIT */
/*
 * v1 Pod: what the endpoints controller reads when a Service has a selector
 * and no EndpointSlice: labels, IPs, readiness, node and container ports.
 */
#include "manifest_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mf_pod_free(struct k8s_pod *p)
{
	mf_meta_free(&p->meta);
	mf_labels_free(&p->labels);
	free(p->ips);
	free(p->node);
	free(p->hostname);
	free(p->subdomain);
	for (size_t i = 0; i < p->n_ports; i++)
		free(p->ports[i].name);
	free(p->ports);
	memset(p, 0, sizeof(*p));
}

static int mf_pod_ips(struct mf_ctx *c, const mf_node *status,
		      struct k8s_pod *p)
{
	const mf_node *seq = NULL;
	uint8_t ip[16];
	char path[MF_PATH_MAX];
	int ret;

	/* podIPs (dual-stack) supersedes podIP, which equals podIPs[0]. */
	ret = mf_get_seq(c, status, "status", "podIPs", &seq);
	if (ret == -ENOMEM)
		return ret;
	if (ret == 1 && seq->n) {
		p->ips = calloc(seq->n, sizeof(*p->ips));
		if (!p->ips)
			return -ENOMEM;
		for (size_t i = 0; i < seq->n; i++) {
			mf_path_i(path, sizeof(path), "status", "podIPs", i);
			if (mf_as_map(c, seq->child[i], path) < 0)
				continue;
			if (mf_get_ip(c, seq->child[i], path, "ip",
				      p->ips[p->n_ips]) == 1)
				p->n_ips++;
		}
		return 0;
	}
	if (mf_get_ip(c, status, "status", "podIP", ip) != 1)
		return 0;
	p->ips = malloc(sizeof(*p->ips));
	if (!p->ips)
		return -ENOMEM;
	memcpy(p->ips[0], ip, 16);
	p->n_ips = 1;
	return 0;
}

static int mf_pod_status(struct mf_ctx *c, const mf_node *status,
			 struct k8s_pod *p)
{
	static const char *const phases[] = {
		[K8S_POD_PENDING] = "Pending",
		[K8S_POD_RUNNING] = "Running",
		[K8S_POD_SUCCEEDED] = "Succeeded",
		[K8S_POD_FAILED] = "Failed",
		[K8S_POD_UNKNOWN] = "Unknown",
	};
	const mf_node *conds = NULL, *at = NULL;
	const char *phase;
	char path[MF_PATH_MAX];
	int ret;

	p->phase = K8S_POD_PENDING;
	ret = mf_get_str(c, status, "status", "phase", &phase, &at);
	if (ret == 1) {
		size_t i;

		for (i = 0; i < sizeof(phases) / sizeof(*phases); i++)
			if (!strcmp(phase, phases[i]))
				break;
		if (i < sizeof(phases) / sizeof(*phases))
			p->phase = (enum k8s_pod_phase)i;
		else
			mf_error(c, at,
				 "status.phase: unsupported value \"%.64s\": supported values: \"Pending\", \"Running\", \"Succeeded\", \"Failed\", \"Unknown\"",
				 phase);
	}
	ret = mf_get_seq(c, status, "status", "conditions", &conds);
	for (size_t i = 0; ret == 1 && i < conds->n; i++) {
		const char *type, *st;

		mf_path_i(path, sizeof(path), "status", "conditions", i);
		if (mf_as_map(c, conds->child[i], path) < 0 ||
		    mf_get_str(c, conds->child[i], path, "type", &type,
			       NULL) != 1 ||
		    strcmp(type, "Ready") ||
		    mf_get_str(c, conds->child[i], path, "status", &st,
			       NULL) != 1)
			continue;
		p->ready = !strcmp(st, "True");
	}
	return mf_pod_ips(c, status, p);
}

/* containers[].ports[]: names are IANA_SVC_NAMEs, unique in the Pod
 * (validateContainerPorts), since a Service's named targetPort looks them
 * up across all containers. */
static int mf_container_ports(struct mf_ctx *c, const mf_node *ctr,
			      const char *cpath, struct k8s_pod *p,
			      size_t *cap)
{
	const mf_node *seq = NULL;
	char path[MF_PATH_MAX];
	int ret = mf_get_seq(c, ctr, cpath, "ports", &seq);

	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	for (size_t i = 0; i < seq->n; i++) {
		const mf_node *pm = seq->child[i], *at = NULL;
		struct k8s_container_port *cp;
		const char *name = "";

		mf_path_i(path, sizeof(path), cpath, "ports", i);
		if (mf_as_map(c, pm, path) < 0)
			continue;
		if (mf_grow((void **)&p->ports, cap, p->n_ports,
			    sizeof(*p->ports)))
			return -ENOMEM;
		cp = &p->ports[p->n_ports++];
		ret = mf_get_str(c, pm, path, "name", &name, &at);
		if (ret == 1 && *name && !mf_is_iana_svc_name(name))
			mf_error(c, at,
				 "%s.name: \"%.64s\" is not a valid port name (IANA_SVC_NAME)",
				 path, name);
		cp->name = strdup(ret == 1 ? name : "");
		if (!cp->name)
			return -ENOMEM;
		for (size_t j = 0; *cp->name && j + 1 < p->n_ports; j++)
			if (!strcmp(p->ports[j].name, cp->name))
				mf_error(c, at, "%s.name: Duplicate value: \"%s\"",
					 path, cp->name);
		if (mf_get_port(c, pm, path, "containerPort", MF_PORT_REQUIRED,
				&cp->port) == -ENOMEM ||
		    mf_get_protocol(c, pm, path, "protocol", &cp->protocol) ==
			    -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

static int mf_label_field(struct mf_ctx *c, const mf_node *spec,
			  const char *key, char **out)
{
	const mf_node *at = NULL;
	const char *s;
	int ret = mf_get_str(c, spec, "spec", key, &s, &at);

	if (ret != 1)
		return ret == -ENOMEM ? ret : 0;
	if (!mf_is_dns1123_label(s))
		mf_error(c, at, "spec.%s: \"%.64s\" is not a valid DNS-1123 label",
			 key, s);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int mf_pod_spec(struct mf_ctx *c, const mf_node *spec,
		       struct k8s_pod *p)
{
	const mf_node *ctrs = NULL;
	char path[MF_PATH_MAX];
	size_t cap = 0;
	int ret;

	if (mf_get_strdup(c, spec, "spec", "nodeName", &p->node) == -ENOMEM ||
	    mf_label_field(c, spec, "hostname", &p->hostname) ||
	    mf_label_field(c, spec, "subdomain", &p->subdomain))
		return -ENOMEM;
	ret = mf_get_seq(c, spec, "spec", "containers", &ctrs);
	for (size_t i = 0; ret == 1 && i < ctrs->n; i++) {
		mf_path_i(path, sizeof(path), "spec", "containers", i);
		if (mf_as_map(c, ctrs->child[i], path) < 0)
			continue;
		if (mf_container_ports(c, ctrs->child[i], path, p, &cap))
			return -ENOMEM;
	}
	return ret == -ENOMEM ? ret : 0;
}

int mf_pod(struct mf_ctx *c, const mf_node *obj)
{
	const mf_node *spec = NULL, *status = NULL;
	struct k8s_pod *p;
	int ret;

	if (mf_grow((void **)&c->set.pods, &c->cap_pods, c->set.n_pods,
		    sizeof(*p)))
		return -ENOMEM;
	p = &c->set.pods[c->set.n_pods++];
	p->phase = K8S_POD_PENDING;
	ret = mf_meta(c, obj, MF_NAME_DNS1123_SUBDOMAIN, &p->meta, &p->labels);
	if (ret == -ENOMEM || mf_seen_add(c, MF_POD, &p->meta))
		return -ENOMEM;
	ret = mf_get_map(c, obj, "", "spec", &spec);
	if (ret == 1)
		ret = mf_pod_spec(c, spec, p);
	if (ret == -ENOMEM)
		return ret;
	ret = mf_get_map(c, obj, "", "status", &status);
	if (ret == 1)
		ret = mf_pod_status(c, status, p);
	return ret == -ENOMEM ? ret : 0;
}
