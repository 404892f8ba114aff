/* SPDX-License-Identifier: MIT */
/* A minimal streaming JSON writer for ldmeshctl's -o json: enough to emit
 * objects, arrays, strings, numbers and booleans with correct commas and
 * escaping. */
#ifndef LDMESH_AGENT_CTL_JSON_H
#define LDMESH_AGENT_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool after_key;
	bool first[JSON_MAX_DEPTH]; /* no member written yet at this depth */
};

void json_init(struct json *j, FILE *f);
void json_key(struct json *j, const char *key); /* inside an object */
void json_open(struct json *j, char bracket);   /* '{' or '[' */
void json_close(struct json *j, char bracket);  /* '}' or ']' */
void json_str(struct json *j, const char *s);
void json_u64(struct json *j, uint64_t v);
/* With `decimals` digits after the point (a duration in seconds). */
void json_fixed(struct json *j, double v, int decimals);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* After the outermost value: a newline. */
void json_end(struct json *j);

#endif
