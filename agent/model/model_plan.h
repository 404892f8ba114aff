/* SPDX-License-Identifier: MIT */
/*
 * An edit's plan: which Services it keeps, adds and removes, and adding and
 * removing them in place (model_services.c), over the join (model_join.h).
 * model_update.c applies the plan.
 */
#ifndef LDMESH_AGENT_MODEL_PLAN_H
#define LDMESH_AGENT_MODEL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model_join.h"

/* One Service of an edit: kept (was and is: the same identity), removed
 * (was only) or added (is only, at `index` of src's set). */
struct model_op {
	const struct k8s_service *was, *is;
	const struct model_source *src;
	uint32_t index;
	bool alloc;           /* an added Service allocated alloc_ip */
	uint8_t alloc_ip[16];
};

struct model_plan {
	struct model_op *v;
	size_t n, cap;
	bool table_wide; /* Services come or go */
	bool new_zone;   /* a Node of this node changed, its zone did not: */
	const char *zone; /* the zone's string in the sources now */
};

/* Add the ops of one changed file to `p`: 0, -ENOMEM, or -E2BIG when it
 * is not one an edit in place can follow (names defined twice in it, too
 * many Services changing). */
int model__plan_file(struct model_plan *p, const struct manifest_set *old,
		     const struct manifest_set *now, const struct model_source *now_src);
/* Whether the Services the plan adds and removes can come and go in
 * place; the addresses it allocates, if any, into the ops (alloc). */
bool model__plan_in_place(const struct model_out *m, struct model_plan *p,
			  const struct model_opts *o);
int model__remove_service(struct model_out *m, uint32_t i);
/* A new service record for op->is, its addresses set (`alloc_ip`, when
 * not NULL, allocated to it), indexed; *index. */
int model__add_service(struct model_out *m, const struct model_op *op,
		       const uint8_t *alloc_ip, uint32_t *index);

#endif
