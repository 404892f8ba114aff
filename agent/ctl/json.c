/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <inttypes.h>
#include <string.h>

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

/* A value right after its key takes no comma of its own. */
static void json__sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
}

static void json__quoted(struct json *j, const char *s)
{
	fputc('"', j->f);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(j->f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(j->f, "\\u%04x", *p);
		else
			fputc(*p, j->f);
	}
	fputc('"', j->f);
}

void json_key(struct json *j, const char *key)
{
	json__sep(j);
	json__quoted(j, key);
	fputc(':', j->f);
	j->after_key = true;
}

void json_open(struct json *j, char bracket)
{
	json__sep(j);
	fputc(bracket, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

void json_close(struct json *j, char bracket)
{
	if (j->depth > 0)
		j->depth--;
	fputc(bracket, j->f);
}

void json_str(struct json *j, const char *s)
{
	json__sep(j);
	json__quoted(j, s);
}
void json_u64(struct json *j, uint64_t v)
{
	json__sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_fixed(struct json *j, double v, int decimals)
{
	json__sep(j);
	fprintf(j->f, "%.*f", decimals, v);
}

void json_bool(struct json *j, bool v)
{
	json__sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	json__sep(j);
	fputs("null", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
}
