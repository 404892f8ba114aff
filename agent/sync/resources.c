/* SPDX-License-Identifier: MIT */
#include "resources.h"

/* Gateway API TCPRoutes attached to Services (GAMMA): v1 where the
 * server has it, else v1alpha2 (the experimental channel's TCPRoute); a
 * cluster without the CRDs answers 404 to both. */
static const struct sync_resource sync_tcproutes_v1alpha2 = {
	.name = "tcproutes", .path = "/apis/gateway.networking.k8s.io/v1alpha2/tcproutes",
	.api_version = "gateway.networking.k8s.io/v1alpha2", .kind = "TCPRoute",
	.namespaced = true, .optional = true,
};

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
	{ .name = "tcproutes", .path = "/apis/gateway.networking.k8s.io/v1/tcproutes",
	  .api_version = "gateway.networking.k8s.io/v1", .kind = "TCPRoute",
	  .namespaced = true, .optional = true, .fallback = &sync_tcproutes_v1alpha2 },
};

const size_t sync_n_resources = sizeof(sync_resources) / sizeof(sync_resources[0]);
