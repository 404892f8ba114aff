/* SPDX-License-Identifier: MIT */
#include "resources.h"

const struct sync_resource sync_resources[] = {
	/* Services another proxy owns are not ours to route (KEP-2447,
	 * kube-proxy's own selector). */
	{ .name = "services", .path = "/api/v1/services", .api_version = "v1",
	  .kind = "Service", .namespaced = true,
	  .label_selector = "!service.kubernetes.io/service-proxy-name" },
	{ .name = "endpointslices", .path = "/apis/discovery.k8s.io/v1/endpointslices",
	  .api_version = "discovery.k8s.io/v1", .kind = "EndpointSlice",
	  .namespaced = true },
	/* Only this node's Node: every agent watching every Node would cost
	 * the API server N^2 events on a large cluster. */
	{ .name = "nodes", .path = "/api/v1/nodes", .api_version = "v1",
	  .kind = "Node", .this_node = true },
	/* GA in 1.33; older servers answer 404. */
	{ .name = "servicecidrs", .path = "/apis/networking.k8s.io/v1/servicecidrs",
	  .api_version = "networking.k8s.io/v1", .kind = "ServiceCIDR",
	  .optional = true },
};

const size_t sync_n_resources = sizeof(sync_resources) / sizeof(sync_resources[0]);
