/* SPDX-License-Identifier: MIT */
/*
 * The documents are loaded whole with libyaml's document API, changed in
 * place and dumped again: keys keep their order and scalars their style
 * (a quoted "80" stays a string), comments are lost (libyaml keeps none).
 * libyaml keeps a document's nodes in one array that grows as nodes are
 * added, so a node is named by its index and looked up again after every
 * addition, never held by pointer across one.
 */
#define _GNU_SOURCE
#include "inject.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define INJECT_LIB_DIR "/opt/ldmesh"
/* the table's parent (LDMESH_TABLE_DEFAULT is below it), never the table
 * directory: a bind mount of that would keep a replaced one */
#define INJECT_TABLE_DIR "/run/ldmesh"
#define INJECT_EXEC INJECT_LIB_DIR "/ldmesh-exec"
#define INJECT_VOL_TABLE "ldmesh-table"
#define INJECT_VOL_LIB "ldmesh-lib"

/* A List inside a List inside ...: kubectl makes one level; more is
 * hostile input, not worth a deep recursion. */
#define INJECT_MAX_DEPTH 8

struct inject {
	yaml_document_t *doc;
	const struct inject_opts *o;
	const char *lib;   /* the preload's path in the pod */
	FILE *err;
	const char *name;  /* the input, for notes */
	bool json;         /* the document is JSON: what is added is too */
	char where[256];   /* the pod carrier being changed, for notes */
};

static yaml_node_t *inject__node(const struct inject *in, int idx)
{
	return idx ? yaml_document_get_node(in->doc, idx) : NULL;
}

static bool inject__is(const struct inject *in, int idx, const char *s)
{
	yaml_node_t *n = inject__node(in, idx);

	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static bool inject__type(const struct inject *in, int idx, yaml_node_type_t type)
{
	yaml_node_t *n = inject__node(in, idx);

	return n && n->type == type;
}

/* The value of `key` in mapping `map`, or 0. */
static int inject__get(const struct inject *in, int map, const char *key)
{
	yaml_node_t *n = inject__node(in, map);

	if (!n || n->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
		if (inject__is(in, p->key, key))
			return p->value;
	return 0;
}

/* The value of a path of keys from `map`, or 0. */
static int inject__path(const struct inject *in, int map, const char *const *keys)
{
	for (; map && *keys; keys++)
		map = inject__get(in, map, *keys);
	return map;
}

static int inject__scalar(struct inject *in, const char *s)
{
	/* in JSON every string is quoted; `true` (readOnly) is not a string */
	yaml_scalar_style_t style = in->json && strcmp(s, "true") ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
								  : YAML_ANY_SCALAR_STYLE;

	return yaml_document_add_scalar(in->doc, NULL, (yaml_char_t *)s, -1, style);
}

/* Set `key` of `map` to `value` (a node), adding the pair if absent.
 * 0, or -1 when libyaml is out of memory. */
static int inject__set(struct inject *in, int map, const char *key, int value)
{
	yaml_node_t *n = inject__node(in, map);
	int k;

	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
		if (inject__is(in, p->key, key)) {
			p->value = value;
			return 0;
		}
	k = inject__scalar(in, key);
	return k && value && yaml_document_append_mapping_pair(in->doc, map, k, value) ? 0 : -1;
}

/* A new mapping of `n` key/value string pairs (a value NULL: the node
 * given in `node_value` instead). */
static int inject__map(struct inject *in, const char *const *kv, unsigned n, int node_value)
{
	int map = yaml_document_add_mapping(in->doc, NULL, YAML_ANY_MAPPING_STYLE);

	for (unsigned i = 0; map && i < n; i++) {
		int v = kv[2 * i + 1] ? inject__scalar(in, kv[2 * i + 1]) : node_value;

		if (inject__set(in, map, kv[2 * i], v) < 0)
			return 0;
	}
	return map;
}

/* Whether node `idx` is YAML's null (`key:` with nothing after it, `~`,
 * `null`), which charts leave where a list may go. */
static bool inject__null(const struct inject *in, int idx)
{
	yaml_node_t *n = inject__node(in, idx);

	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!n->data.scalar.length || inject__is(in, idx, "~") || inject__is(in, idx, "null") ||
		inject__is(in, idx, "Null") || inject__is(in, idx, "NULL"));
}

/* The sequence under `key` of `map`, made when absent or null (when
 * `make`). */
static int inject__seq(struct inject *in, int map, const char *key, bool make)
{
	int seq = inject__get(in, map, key);

	if ((seq && !inject__null(in, seq)) || !make)
		return inject__type(in, seq, YAML_SEQUENCE_NODE) ? seq : 0;
	seq = yaml_document_add_sequence(in->doc, NULL, YAML_ANY_SEQUENCE_STYLE);
	return seq && inject__set(in, map, key, seq) == 0 ? seq : 0;
}

/* The item of sequence `seq` whose `name` is `name`: its position, or -1. */
static int inject__named(const struct inject *in, int seq, const char *name)
{
	yaml_node_t *n = inject__node(in, seq);

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return -1;
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
		if (inject__is(in, inject__get(in, *i, "name"), name))
			return (int)(i - n->data.sequence.items.start);
	return -1;
}

static int inject__item(const struct inject *in, int seq, int pos)
{
	return inject__node(in, seq)->data.sequence.items.start[pos];
}

static void inject__drop_item(struct inject *in, int seq, int pos)
{
	yaml_node_t *n = inject__node(in, seq);
	yaml_node_item_t *at = n->data.sequence.items.start + pos;

	memmove(at, at + 1, (size_t)(n->data.sequence.items.top - at - 1) * sizeof(*at));
	n->data.sequence.items.top--;
}

static void inject__drop_key(struct inject *in, int map, const char *key)
{
	yaml_node_t *n = inject__node(in, map);

	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
		if (inject__is(in, p->key, key)) {
			memmove(p, p + 1, (size_t)(n->data.mapping.pairs.top - p - 1) * sizeof(*p));
			n->data.mapping.pairs.top--;
			return;
		}
}

/* Uninject: the item named `name` goes, and the sequence with it when
 * nothing else is left in it (inject made it). */
static void inject__remove_named(struct inject *in, int map, const char *key, const char *name)
{
	int seq = inject__seq(in, map, key, false), pos = inject__named(in, seq, name);

	if (pos < 0)
		return;
	inject__drop_item(in, seq, pos);
	if (inject__node(in, seq)->data.sequence.items.top ==
	    inject__node(in, seq)->data.sequence.items.start)
		inject__drop_key(in, map, key);
}

/* Inject: append `item` (a mapping whose name is `name`) to the sequence
 * under `key` unless an item of that name is there. 0 or -1. */
static int inject__ensure_named(struct inject *in, int map, const char *key, const char *name,
				int (*make)(struct inject *))
{
	int seq = inject__seq(in, map, key, true), item;

	if (!seq)
		return inject__get(in, map, key) ? 0 : -1; /* not a list: left alone */
	if (inject__named(in, seq, name) >= 0)
		return 0;
	item = make(in);
	return item && yaml_document_append_sequence_item(in->doc, seq, item) ? 0 : -1;
}

static int inject__mount_table(struct inject *in)
{
	static const char *const kv[] = { "name", INJECT_VOL_TABLE, "mountPath", INJECT_TABLE_DIR,
					  "readOnly", "true" };
	return inject__map(in, kv, 3, 0);
}

static int inject__mount_lib(struct inject *in)
{
	static const char *const kv[] = { "name", INJECT_VOL_LIB, "mountPath", INJECT_LIB_DIR,
					  "readOnly", "true" };
	return inject__map(in, kv, 3, 0);
}

static int inject__host_path(struct inject *in, const char *vol, const char *path)
{
	const char *kv[] = { "path", path, "type", "Directory" };
	const char *outer[] = { "name", vol, "hostPath", NULL };
	int inner = inject__map(in, kv, 2, 0);

	return inner ? inject__map(in, outer, 2, inner) : 0;
}

static int inject__vol_table(struct inject *in)
{
	/* made by the agent: Directory, never DirectoryOrCreate (a pod must
	 * not create the table's directory before the agent) */
	return inject__host_path(in, INJECT_VOL_TABLE, INJECT_TABLE_DIR);
}

static int inject__vol_lib(struct inject *in)
{
	return inject__host_path(in, INJECT_VOL_LIB, INJECT_LIB_DIR);
}

static int inject__env_preload(struct inject *in)
{
	const char *kv[] = { "name", "LD_PRELOAD", "value", in->lib };

	return inject__map(in, kv, 2, 0);
}

static int inject__env_namespace(struct inject *in)
{
	static const char *const ref[] = { "fieldPath", "metadata.namespace" };
	static const char *const from[] = { "fieldRef", NULL };
	static const char *const env[] = { "name", "LDMESH_NAMESPACE", "valueFrom", NULL };
	int r = inject__map(in, ref, 1, 0), f = r ? inject__map(in, from, 1, r) : 0;

	return f ? inject__map(in, env, 2, f) : 0;
}

static void inject__note(struct inject *in, const char *container, const char *what)
{
	fprintf(in->err, "ldmeshctl: %s: %s container %s: %s\n", in->name, in->where,
		container, what);
}

/* LD_PRELOAD of one container: ours alone, or ours in front of theirs.
 * A value ldmesh already leads is left as it is. */
static int inject__preload(struct inject *in, int c, const char *cname)
{
	int env = inject__seq(in, c, "env", true), pos, e, v;
	size_t n = strlen(in->lib);
	yaml_node_t *val;
	char *both;

	if (!env)
		return 0;
	pos = inject__named(in, env, "LD_PRELOAD");
	if (pos < 0)
		return inject__ensure_named(in, c, "env", "LD_PRELOAD", inject__env_preload);
	e = inject__item(in, env, pos);
	val = inject__node(in, v = inject__get(in, e, "value"));
	if (!val || val->type != YAML_SCALAR_NODE) {
		inject__note(in, cname, "LD_PRELOAD is not a plain value: left alone");
		return 0;
	}
	if (val->data.scalar.length >= n && !memcmp(val->data.scalar.value, in->lib, n) &&
	    (val->data.scalar.length == n || strchr(": ", val->data.scalar.value[n])))
		return 0;
	if (asprintf(&both, "%s:%.*s", in->lib, (int)val->data.scalar.length,
		     (const char *)val->data.scalar.value) < 0)
		return -1;
	v = inject__scalar(in, both);
	free(both);
	return v ? inject__set(in, e, "value", v) : -1;
}

static void uninject__preload(struct inject *in, int c)
{
	int env = inject__seq(in, c, "env", false), pos = inject__named(in, env, "LD_PRELOAD"), v;
	size_t n = strlen(in->lib);
	yaml_node_t *val;

	if (pos < 0)
		return;
	val = inject__node(in, inject__get(in, inject__item(in, env, pos), "value"));
	if (!val || val->type != YAML_SCALAR_NODE || val->data.scalar.length < n ||
	    memcmp(val->data.scalar.value, in->lib, n))
		return;
	if (val->data.scalar.length == n) {
		inject__remove_named(in, c, "env", "LD_PRELOAD");
		return;
	}
	if (val->data.scalar.value[n] != ':')
		return;
	/* theirs again, without ours in front */
	v = yaml_document_add_scalar(in->doc, NULL, val->data.scalar.value + n + 1,
				     (int)(val->data.scalar.length - n - 1), val->data.scalar.style);
	if (v)
		inject__set(in, inject__item(in, env, pos), "value", v);
}

static int inject__command(struct inject *in, int c, const char *cname)
{
	int cmd = inject__get(in, c, "command"), wrapped;
	yaml_node_t *n = inject__node(in, cmd);

	if (!n || n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start) {
		inject__note(in, cname, "no command: not wrapped in ldmesh-exec (the image's "
					"entrypoint is not known here; give the container a command)");
		return 0;
	}
	if (inject__is(in, n->data.sequence.items.start[0], INJECT_EXEC))
		return 0;
	/* a new sequence: ldmesh-exec, --, then theirs */
	wrapped = yaml_document_add_sequence(in->doc, NULL, n->data.sequence.style);
	if (!wrapped || !yaml_document_append_sequence_item(in->doc, wrapped, inject__scalar(in, INJECT_EXEC)) ||
	    !yaml_document_append_sequence_item(in->doc, wrapped, inject__scalar(in, "--")))
		return -1;
	for (int i = 0;; i++) {
		n = inject__node(in, cmd);
		if (n->data.sequence.items.start + i >= n->data.sequence.items.top)
			break;
		if (!yaml_document_append_sequence_item(in->doc, wrapped, n->data.sequence.items.start[i]))
			return -1;
	}
	return inject__set(in, c, "command", wrapped);
}

static void uninject__command(struct inject *in, int c)
{
	int cmd = inject__get(in, c, "command");
	yaml_node_t *n = inject__node(in, cmd);

	if (n && n->type == YAML_SEQUENCE_NODE &&
	    n->data.sequence.items.top - n->data.sequence.items.start >= 2 &&
	    inject__is(in, n->data.sequence.items.start[0], INJECT_EXEC) &&
	    inject__is(in, n->data.sequence.items.start[1], "--")) {
		inject__drop_item(in, cmd, 0);
		inject__drop_item(in, cmd, 0);
	}
}

static int inject__container(struct inject *in, int c)
{
	yaml_node_t *nm = inject__node(in, inject__get(in, c, "name"));
	char cname[128];

	snprintf(cname, sizeof(cname), "%.*s", nm && nm->type == YAML_SCALAR_NODE ? (int)nm->data.scalar.length : 1,
		 nm && nm->type == YAML_SCALAR_NODE ? (const char *)nm->data.scalar.value : "?");
	if (in->o->undo) {
		uninject__preload(in, c);
		inject__remove_named(in, c, "env", "LDMESH_NAMESPACE");
		inject__remove_named(in, c, "volumeMounts", INJECT_VOL_TABLE);
		inject__remove_named(in, c, "volumeMounts", INJECT_VOL_LIB);
		uninject__command(in, c);
		return 0;
	}
	if (inject__preload(in, c, cname) < 0 ||
	    inject__ensure_named(in, c, "env", "LDMESH_NAMESPACE", inject__env_namespace) < 0 ||
	    inject__ensure_named(in, c, "volumeMounts", INJECT_VOL_TABLE, inject__mount_table) < 0 ||
	    inject__ensure_named(in, c, "volumeMounts", INJECT_VOL_LIB, inject__mount_lib) < 0)
		return -1;
	return in->o->exec ? inject__command(in, c, cname) : 0;
}

static int inject__pod_spec(struct inject *in, int spec)
{
	static const char *const lists[] = { "initContainers", "containers" };

	if (!inject__type(in, spec, YAML_MAPPING_NODE))
		return 0;
	for (unsigned l = 0; l < 2; l++) {
		int seq = inject__seq(in, spec, lists[l], false);

		for (int i = 0; seq; i++) {
			yaml_node_t *n = inject__node(in, seq);

			if (n->data.sequence.items.start + i >= n->data.sequence.items.top)
				break;
			if (inject__type(in, n->data.sequence.items.start[i], YAML_MAPPING_NODE) &&
			    inject__container(in, n->data.sequence.items.start[i]) < 0)
				return -1;
		}
	}
	if (in->o->undo) {
		inject__remove_named(in, spec, "volumes", INJECT_VOL_TABLE);
		inject__remove_named(in, spec, "volumes", INJECT_VOL_LIB);
		return 0;
	}
	if (inject__ensure_named(in, spec, "volumes", INJECT_VOL_TABLE, inject__vol_table) < 0 ||
	    inject__ensure_named(in, spec, "volumes", INJECT_VOL_LIB, inject__vol_lib) < 0)
		return -1;
	return 0;
}

/* Where each kind keeps its pod spec. */
static const struct {
	const char *kind;
	const char *path[6];
} inject__carriers[] = {
	{ "Pod", { "spec" } },
	{ "Deployment", { "spec", "template", "spec" } },
	{ "StatefulSet", { "spec", "template", "spec" } },
	{ "DaemonSet", { "spec", "template", "spec" } },
	{ "ReplicaSet", { "spec", "template", "spec" } },
	{ "ReplicationController", { "spec", "template", "spec" } },
	{ "Job", { "spec", "template", "spec" } },
	{ "CronJob", { "spec", "jobTemplate", "spec", "template", "spec" } },
};

static int inject__object(struct inject *in, int obj, unsigned depth)
{
	static const char *const meta_name[] = { "metadata", "name", NULL };
	yaml_node_t *kind = inject__node(in, inject__get(in, obj, "kind")), *nm;
	int items;

	if (!kind || kind->type != YAML_SCALAR_NODE)
		return 0;
	items = inject__is(in, inject__get(in, obj, "kind"), "List") ? inject__seq(in, obj, "items", false) : 0;
	for (int i = 0; items && depth < INJECT_MAX_DEPTH; i++) {
		yaml_node_t *n = inject__node(in, items);

		if (n->data.sequence.items.start + i >= n->data.sequence.items.top)
			break;
		if (inject__object(in, n->data.sequence.items.start[i], depth + 1) < 0)
			return -1;
	}
	for (unsigned c = 0; c < sizeof(inject__carriers) / sizeof(inject__carriers[0]); c++) {
		if (!inject__is(in, inject__get(in, obj, "kind"), inject__carriers[c].kind))
			continue;
		nm = inject__node(in, inject__path(in, obj, meta_name));
		snprintf(in->where, sizeof(in->where), "%s/%.*s", inject__carriers[c].kind,
			 nm && nm->type == YAML_SCALAR_NODE ? (int)nm->data.scalar.length : 1,
			 nm && nm->type == YAML_SCALAR_NODE ? (const char *)nm->data.scalar.value : "?");
		return inject__pod_spec(in, inject__path(in, obj, inject__carriers[c].path));
	}
	return 0;
}

static int inject__write(void *ctx, unsigned char *buf, size_t n)
{
	return fwrite(buf, 1, n, ctx) == n;
}

int ctl_inject(FILE *in_file, const char *name, FILE *out, FILE *err,
	       const struct inject_opts *o)
{
	struct inject in = { .o = o, .err = err, .name = name,
			     .lib = o->musl ? INJECT_LIB_DIR "/libldmesh-musl.so"
					    : INJECT_LIB_DIR "/libldmesh.so" };
	yaml_parser_t parser;
	yaml_emitter_t emitter;
	yaml_document_t doc;
	char *text = NULL;
	size_t len = 0;
	FILE *buf = open_memstream(&text, &len);
	int rc = 1;

	if (!buf) {
		fprintf(err, "ldmeshctl: %s: out of memory\n", name);
		return 1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, in_file);
	yaml_emitter_initialize(&emitter);
	/* everything to memory first: on an error nothing at all is written */
	yaml_emitter_set_output(&emitter, inject__write, buf);
	yaml_emitter_set_width(&emitter, -1);
	yaml_emitter_set_unicode(&emitter, 1);
	yaml_emitter_set_indent(&emitter, 2);
	if (!yaml_emitter_open(&emitter))
		goto out;
	for (;;) {
		int root;

		if (!yaml_parser_load(&parser, &doc)) {
			fprintf(err, "ldmeshctl: %s:%zu:%zu: %s\n", name, parser.problem_mark.line + 1,
				parser.problem_mark.column + 1, parser.problem ? parser.problem : "not YAML");
			goto out;
		}
		if (!(root = yaml_document_get_root_node(&doc) ? 1 : 0)) {
			yaml_document_delete(&doc);
			break; /* the end of the stream */
		}
		in.doc = &doc;
		in.json = yaml_document_get_root_node(&doc)->type == YAML_MAPPING_NODE &&
			  yaml_document_get_root_node(&doc)->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
		if (inject__object(&in, root, 0) < 0) {
			fprintf(err, "ldmeshctl: %s: out of memory\n", name);
			yaml_document_delete(&doc);
			goto out;
		}
		if (!yaml_emitter_dump(&emitter, &doc)) /* deletes doc */
			goto out;
	}
	if (!yaml_emitter_close(&emitter) || !yaml_emitter_flush(&emitter))
		goto out;
	rc = 0;
out:
	if (rc && emitter.error != YAML_NO_ERROR)
		fprintf(err, "ldmeshctl: %s: cannot write YAML: %s\n", name,
			emitter.problem ? emitter.problem : "?");
	yaml_emitter_delete(&emitter);
	yaml_parser_delete(&parser);
	fclose(buf);
	if (!rc && (fwrite(text, 1, len, out) != len ||
		    /* libyaml leaves the last line of a flow collection open */
		    (len && text[len - 1] != '\n' && fputc('\n', out) == EOF)))
		rc = 1;
	free(text);
	return rc;
}
