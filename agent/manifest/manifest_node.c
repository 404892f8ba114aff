/* SPDX-License-Identifier: MIT */
/* Node: its name and its zone label, for topology-aware routing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_priv.h"

#define MF_ZONE_LABEL "topology.kubernetes.io/zone"

void mf_node_free(struct k8s_node *n)
{
	mf_meta_free(&n->meta);
	free(n->zone);
	memset(n, 0, sizeof(*n));
}

int mf_node_obj(struct mf_ctx *c, const mf_node *obj)
{
	struct k8s_labels labels = { .v = NULL };
	struct k8s_node *n;
	const char *zone;
	int ret;

	if (mf_grow((void **)&c->set.nodes, &c->cap_nodes, c->set.n_nodes, sizeof(*n)))
		return -ENOMEM;
	n = &c->set.nodes[c->set.n_nodes++];
	ret = mf_meta(c, obj, MF_NAME_DNS1123_SUBDOMAIN, &n->meta, &labels);
	zone = mf_label_get(&labels, MF_ZONE_LABEL);
	if (ret == -ENOMEM || mf_seen_add(c, MF_NODE, &n->meta) ||
	    (zone && *zone && !(n->zone = strdup(zone))))
		ret = -ENOMEM;
	mf_labels_free(&labels);
	return ret == -ENOMEM ? ret : 0;
}
