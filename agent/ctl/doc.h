/* SPDX-License-Identifier: MIT */
/*
 * One structured document written as JSON (json.c) or YAML (libyaml's
 * emitter, which chooses the quoting), so `get -o json` and `-o yaml` are
 * one walk over the table. Strings stay strings in YAML: one a YAML
 * reader would take for a number, a boolean or null is quoted.
 */
#ifndef LDMESH_AGENT_CTL_DOC_H
#define LDMESH_AGENT_CTL_DOC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

#include "json.h"

struct doc {
	bool yaml;
	bool failed;     /* the emitter refused an event (out of memory) */
	struct json j;
	yaml_emitter_t e;
};

/* Start a document on `f`; 0 or -ENOMEM. doc_finish ends it. */
int doc_begin(struct doc *d, FILE *f, bool yaml);
/* 0, or -EIO when anything could not be written. */
int doc_finish(struct doc *d);

void doc_map(struct doc *d);
void doc_map_end(struct doc *d);
void doc_seq(struct doc *d);
void doc_seq_end(struct doc *d);
void doc_key(struct doc *d, const char *key); /* inside a map */
void doc_str(struct doc *d, const char *s);
void doc_u64(struct doc *d, uint64_t v);
void doc_bool(struct doc *d, bool v);
void doc_null(struct doc *d);

/* Whether a YAML 1.1 or 1.2 reader would resolve plain `s` to something
 * else than that string (number, boolean, null, empty). */
bool doc_yaml_ambiguous(const char *s);

#endif
