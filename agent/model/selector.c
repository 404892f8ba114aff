/* SPDX-License-Identifier: MIT */
#include "selector.h"

#include <string.h>

static const char *selector__get(const struct k8s_labels *labels, const char *key)
{
	for (size_t i = 0; i < labels->n; i++)
		if (!strcmp(labels->v[i].key, key))
			return labels->v[i].value;
	return NULL;
}

bool selector_matches(const struct k8s_labels *selector,
		      const struct k8s_labels *labels)
{
	if (!selector->n)
		return false;
	for (size_t i = 0; i < selector->n; i++) {
		const char *v = selector__get(labels, selector->v[i].key);
		if (!v || strcmp(v, selector->v[i].value))
			return false;
	}
	return true;
}
