/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the manifest parser (yaml_tree + every kind's field
 * validation) on arbitrary bytes. Whatever the input, it must return 0 with
 * a set or an error with every problem reported, never crash, leak or read
 * out of bounds. On success the set is walked so every string is touched
 * (ASan then proves each is a live, terminated allocation).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz__report(void *ctx, const char *line)
{
	size_t *total = ctx;

	*total += strlen(line);
}

static size_t fz__str(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t fz__meta(const struct k8s_meta *m)
{
	return fz__str(m->ns) + fz__str(m->name);
}

static size_t fz__labels(const struct k8s_labels *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += fz__str(l->v[i].key) + fz__str(l->v[i].value);
	return n;
}

static size_t fz__walk(const struct manifest_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n_services; i++) {
		const struct k8s_service *s = &set->services[i];

		n += fz__meta(&s->meta) + fz__str(s->external_name);
		n += fz__labels(&s->selector);
		for (size_t k = 0; k < s->n_ports; k++)
			n += fz__str(s->ports[k].name) +
			     fz__str(s->ports[k].target_port_name) +
			     fz__str(s->ports[k].app_protocol) + s->ports[k].port;
		for (size_t k = 0; k < s->n_external_ips; k++)
			n += s->external_ips[k][15];
	}
	for (size_t i = 0; i < set->n_slices; i++) {
		const struct k8s_slice *s = &set->slices[i];

		n += fz__meta(&s->meta) + fz__str(s->service);
		for (size_t k = 0; k < s->n_endpoints; k++) {
			const struct k8s_endpoint *e = &s->endpoints[k];

			n += fz__str(e->node) + fz__str(e->zone) +
			     fz__str(e->hostname) + fz__str(e->target) +
			     fz__str(e->zone_hints) + e->addr[15];
		}
		for (size_t k = 0; k < s->n_ports; k++)
			n += fz__str(s->ports[k].name) + s->ports[k].port;
	}
	for (size_t i = 0; i < set->n_pods; i++) {
		const struct k8s_pod *p = &set->pods[i];

		n += fz__meta(&p->meta) + fz__labels(&p->labels) + fz__str(p->node) +
		     fz__str(p->hostname) + fz__str(p->subdomain);
		for (size_t k = 0; k < p->n_ips; k++)
			n += p->ips[k][15];
		for (size_t k = 0; k < p->n_ports; k++)
			n += fz__str(p->ports[k].name) + p->ports[k].port;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_set set;
	size_t total = 0;
	struct diag d = { .report = fz__report, .ctx = &total };
	volatile size_t sink;
	int ret;

	memset(&set, 0, sizeof(set));
	ret = manifest_load_data("fuzz.yaml", (const char *)data, size, &set, &d);
	if (ret == 0) {
		/* A success reports nothing: "valid" and "errors" never mix. */
		if (d.errors)
			__builtin_trap();
		sink = fz__walk(&set);
		manifest_set_free(&set);
	} else if (!d.errors) {
		/* Every refusal names its reason. */
		__builtin_trap();
	}
	(void)sink;
	return 0;
}
