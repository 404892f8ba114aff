/* SPDX-License-Identifier: MIT */
/* Service selectors: a Service's spec.selector is an equality-based map;
 * a pod matches when it carries every key with the same value. */
#ifndef LDMESH_AGENT_SELECTOR_H
#define LDMESH_AGENT_SELECTOR_H

#include <stdbool.h>

#include "manifest.h"

/* True when `labels` satisfies every pair of `selector`. An empty selector
 * selects nothing here: the endpoints controller only manages Services with
 * a non-empty selector (a Service without one is fed by hand-made
 * EndpointSlices or Endpoints). */
bool selector_matches(const struct k8s_labels *selector,
		      const struct k8s_labels *labels);

#endif
