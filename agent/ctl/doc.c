/* SPDX-License-Identifier: MIT */
#include "doc.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <regex.h>

static int doc__write(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

static void doc__emit(struct doc *d, yaml_event_t *ev, int made)
{
	if (!made || !yaml_emitter_emit(&d->e, ev))
		d->failed = true; /* the emitter deletes the event either way */
}

int doc_begin(struct doc *d, FILE *f, bool yaml)
{
	yaml_event_t ev;

	memset(d, 0, sizeof(*d));
	d->yaml = yaml;
	if (!yaml) {
		json_init(&d->j, f);
		return 0;
	}
	if (!yaml_emitter_initialize(&d->e))
		return -ENOMEM;
	yaml_emitter_set_output(&d->e, doc__write, f);
	yaml_emitter_set_width(&d->e, -1);
	yaml_emitter_set_unicode(&d->e, 1);
	yaml_emitter_set_indent(&d->e, 2);
	doc__emit(d, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	doc__emit(d, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	return 0;
}

int doc_finish(struct doc *d)
{
	yaml_event_t ev;

	if (!d->yaml) {
		json_end(&d->j);
		return ferror(d->j.f) ? -EIO : 0;
	}
	doc__emit(d, &ev, yaml_document_end_event_initialize(&ev, 1));
	doc__emit(d, &ev, yaml_stream_end_event_initialize(&ev));
	if (!yaml_emitter_flush(&d->e))
		d->failed = true;
	yaml_emitter_delete(&d->e);
	return d->failed ? -EIO : 0;
}

void doc_map(struct doc *d)
{
	yaml_event_t ev;

	if (!d->yaml) {
		json_open(&d->j, '{');
		return;
	}
	doc__emit(d, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							      YAML_BLOCK_MAPPING_STYLE));
}

void doc_map_end(struct doc *d)
{
	yaml_event_t ev;

	if (!d->yaml) {
		json_close(&d->j, '}');
		return;
	}
	doc__emit(d, &ev, yaml_mapping_end_event_initialize(&ev));
}

void doc_seq(struct doc *d)
{
	yaml_event_t ev;

	if (!d->yaml) {
		json_open(&d->j, '[');
		return;
	}
	doc__emit(d, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							       YAML_BLOCK_SEQUENCE_STYLE));
}

void doc_seq_end(struct doc *d)
{
	yaml_event_t ev;

	if (!d->yaml) {
		json_close(&d->j, ']');
		return;
	}
	doc__emit(d, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* A scalar as written: `plain` when YAML reads it back as what it is. */
static void doc__scalar(struct doc *d, const char *s, bool plain)
{
	yaml_event_t ev;

	doc__emit(d, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
						       (int)strlen(s), plain, 1,
						       YAML_ANY_SCALAR_STYLE));
}

/*
 * What YAML 1.1 (PyYAML, go-yaml v2, libyaml's users) or 1.2 (core
 * schema) resolves a plain scalar to other than a string: ints in any
 * base (with 1.1's underscores and sexagesimals), floats, .inf and .nan,
 * booleans and nulls in their spellings, 1.1's timestamps and its merge
 * and value keys. An address like 10.96.0.1 is none of these and stays
 * plain, as kubectl writes it.
 */
static const char *const doc__typed[] = {
	"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])*$",                  /* int, 1.1 base 60 */
	"^[-+]?0(x[0-9a-f_]+|o[0-7_]+|b[01_]+)$",              /* hex, octal, binary */
	"^[-+]?([0-9][0-9_]*)?\\.[0-9_]*(e[-+]?[0-9]+)?$",     /* 1.5, .5, 1., 1.5e3 */
	"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])*\\.[0-9_]*$",        /* 1.1 base 60 float */
	"^[-+]?[0-9]+e[-+]?[0-9]+$",                           /* 1e3 (1.2) */
	"^[-+]?\\.(inf|nan)$",
	"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",                     /* 1.1 timestamp */
	"^(y|yes|n|no|true|false|on|off|null|~|<<|=)$",
};

bool doc_yaml_ambiguous(const char *s)
{
	static regex_t re[sizeof(doc__typed) / sizeof(doc__typed[0])];
	static bool compiled, usable;

	if (!*s)
		return true;
	if (!compiled) {
		usable = true;
		for (size_t i = 0; i < sizeof(re) / sizeof(re[0]); i++)
			usable &= !regcomp(&re[i], doc__typed[i],
					   REG_EXTENDED | REG_ICASE | REG_NOSUB);
		compiled = true;
	}
	if (!usable)
		return true; /* quoting is always right, only less pretty */
	for (size_t i = 0; i < sizeof(re) / sizeof(re[0]); i++)
		if (!regexec(&re[i], s, 0, NULL, 0))
			return true;
	return false;
}

void doc_key(struct doc *d, const char *key)
{
	if (!d->yaml) {
		json_key(&d->j, key);
		return;
	}
	doc__scalar(d, key, !doc_yaml_ambiguous(key));
}

void doc_str(struct doc *d, const char *s)
{
	if (!d->yaml) {
		json_str(&d->j, s);
		return;
	}
	doc__scalar(d, s, !doc_yaml_ambiguous(s));
}

void doc_u64(struct doc *d, uint64_t v)
{
	char buf[24];

	if (!d->yaml) {
		json_u64(&d->j, v);
		return;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	doc__scalar(d, buf, true);
}

void doc_bool(struct doc *d, bool v)
{
	if (!d->yaml) {
		json_bool(&d->j, v);
		return;
	}
	doc__scalar(d, v ? "true" : "false", true);
}

void doc_null(struct doc *d)
{
	if (!d->yaml) {
		json_null(&d->j);
		return;
	}
	doc__scalar(d, "null", true);
}
