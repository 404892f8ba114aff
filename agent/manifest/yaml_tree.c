/* SPDX-License-Identifier: MIT */
/*
 * libyaml events -> yaml_tree. One live event at a time: each is consumed
 * and deleted before the next yaml_parser_parse, and everything kept is
 * copied out of it.
 */
#include "yaml_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Power of two; chains stay ~YAML_TREE_MAX_ANCHORS / this long at worst. */
#define YT_ANCHOR_BUCKETS 1024u

struct yt_anchor {
	char *name;
	struct yaml_tree_node *node;
	struct yt_anchor *next;
};

struct yt_open {
	struct yaml_tree_node *node;
	char *anchor; /* registered when the node is complete, so an alias
	                 inside its own anchor is "unknown" and no cycle forms */
	size_t cap;
	bool stream;     /* the root's `items`, streamed to the sink */
	size_t streamed; /* items handed to the sink so far */
};

struct yt_builder {
	struct yaml_tree_stream s;
	size_t docs_cap;
	struct yt_open stack[YAML_TREE_MAX_DEPTH];
	unsigned depth;
	struct yaml_tree_node *root;
	bool in_doc;
	uint32_t doc_line, doc_col;
	size_t nodes_used;    /* written nodes */
	size_t expanded_used; /* nodes added by aliases */
	struct yt_anchor *anchors[YT_ANCHOR_BUCKETS];
	size_t n_anchors;
	struct yaml_tree_error *err;
	/* Streaming (yaml_tree_stream_*): documents and items go to `sink`. */
	const struct yaml_tree_sink *sink;
	const struct yaml_tree_hint *hints; /* the scan's, by document */
	size_t n_hints, next_hint;
	const struct yaml_tree_hint *hint;  /* this document's, or NULL */
	bool hint_asked;                    /* want_items asked for it */
	size_t doc_index;
};

static void yt_set_error(struct yaml_tree_error *err, uint32_t line,
			 uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void yt_set_error(struct yaml_tree_error *err, uint32_t line,
			 uint32_t col, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

#define yt_fail_at(b, m, ret, ...)                                        \
	(yt_set_error((b)->err, (uint32_t)(m)->line + 1,                  \
		      (uint32_t)(m)->column + 1, __VA_ARGS__),            \
	 (ret))

static void yt_nodes_free(struct yaml_tree_node *n)
{
	while (n) {
		struct yaml_tree_node *next = n->next_owned;

		free(n->str);
		free(n->child);
		free(n);
		n = next;
	}
}

void yaml_tree_free(struct yaml_tree_stream *s)
{
	if (!s)
		return;
	yt_nodes_free(s->owned);
	free(s->docs);
	memset(s, 0, sizeof(*s));
}

static void yt_anchors_clear(struct yt_builder *b)
{
	for (unsigned i = 0; i < YT_ANCHOR_BUCKETS; i++) {
		struct yt_anchor *a = b->anchors[i];

		while (a) {
			struct yt_anchor *next = a->next;

			free(a->name);
			free(a);
			a = next;
		}
		b->anchors[i] = NULL;
	}
	b->n_anchors = 0;
}

static unsigned yt_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (YT_ANCHOR_BUCKETS - 1);
}

/* YAML 1.2 lets a later anchor of the same name shadow an earlier one:
 * insert at the head so lookups find the newest first. Takes `name`. */
static int yt_anchor_add(struct yt_builder *b, char *name,
			 struct yaml_tree_node *node)
{
	struct yt_anchor *a;
	unsigned h;

	if (b->hint) {
		/* the scan found none: items may be freed already */
		yt_set_error(b->err, node->line, node->col,
			     "anchor in a document that had none: file changed while it was read");
		free(name);
		return -EINVAL;
	}
	if (b->n_anchors >= YAML_TREE_MAX_ANCHORS) {
		yt_set_error(b->err, node->line, node->col,
			     "more than %u anchors in one document",
			     YAML_TREE_MAX_ANCHORS);
		free(name);
		return -EINVAL;
	}
	a = malloc(sizeof(*a));
	if (!a) {
		free(name);
		return -ENOMEM;
	}
	h = yt_hash(name);
	a->name = name;
	a->node = node;
	a->next = b->anchors[h];
	b->anchors[h] = a;
	b->n_anchors++;
	return 0;
}

static struct yaml_tree_node *yt_anchor_find(struct yt_builder *b,
					     const char *name)
{
	for (struct yt_anchor *a = b->anchors[yt_hash(name)]; a; a = a->next)
		if (!strcmp(a->name, name))
			return a->node;
	return NULL;
}

static struct yaml_tree_node *yt_node_new(struct yt_builder *b,
					  enum yaml_tree_kind kind,
					  const yaml_mark_t *m)
{
	struct yaml_tree_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (uint32_t)m->line + 1;
	n->col = (uint32_t)m->column + 1;
	n->weight = 1;
	n->height = 1;
	n->next_owned = b->s.owned;
	b->s.owned = n;
	return n;
}

static int yt_charge(struct yt_builder *b, size_t *used, size_t nodes, size_t max,
		     const char *what, const yaml_mark_t *m)
{
	if (nodes > max - *used) {
		yt_set_error(b->err, (uint32_t)m->line + 1,
			     (uint32_t)m->column + 1, "more than %zu %s: refusing to go on",
			     max, what);
		return -EINVAL;
	}
	*used += nodes;
	return 0;
}

/* `fill` counts children stored so far; for a map it becomes the pair
 * count once the map ends. */
static int yt_push_child(struct yt_builder *b, struct yaml_tree_node *n,
			 size_t *fill)
{
	struct yt_open *top = &b->stack[b->depth - 1];
	struct yaml_tree_node *p = top->node;

	if (*fill + 1 > top->cap) {
		size_t cap = top->cap ? top->cap * 2 : 8;
		void *v = realloc(p->child, cap * sizeof(*p->child));

		if (!v)
			return -ENOMEM;
		p->child = v;
		top->cap = cap;
	}
	p->child[(*fill)++] = n;
	p->weight += n->weight;
	if (n->height + 1 > p->height)
		p->height = n->height + 1;
	return 0;
}

/* Free `n`, the newest complete subtree: its nodes are the newest owned,
 * `n` (created first) the last of them. */
static void yt_free_newest(struct yt_builder *b, struct yaml_tree_node *n)
{
	struct yaml_tree_node *h;

	do {
		h = b->s.owned;
		b->s.owned = h->next_owned;
		free(h->str);
		free(h->child);
		free(h);
	} while (h != n);
}

/* An item of a streamed `items`: to the sink, then freed. */
static int yt_stream_item(struct yt_builder *b, struct yaml_tree_node *n)
{
	struct yt_open *seq = &b->stack[b->depth - 1];
	int ret = b->sink->item(b->sink->ctx, n, seq->streamed++);

	yt_free_newest(b, n);
	return ret;
}

static int yt_add(struct yt_builder *b, struct yaml_tree_node *n)
{
	if (!b->depth) {
		b->root = n;
		return 0;
	}
	if (b->depth == 2 && b->stack[1].stream)
		return yt_stream_item(b, n);
	/* During construction `n` counts stored children, for both kinds. */
	return yt_push_child(b, n, &b->stack[b->depth - 1].node->n);
}

static int yt_key_cmp(const void *pa, const void *pb)
{
	const struct yaml_tree_node *const *a = pa, *const *b = pb;
	size_t la = (*a)->len, lb = (*b)->len;
	int c = memcmp((*a)->str, (*b)->str, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	/* Ties in document order, so the later duplicate is reported. */
	if ((*a)->line != (*b)->line)
		return (*a)->line < (*b)->line ? -1 : 1;
	return (*a)->col < (*b)->col ? -1 : (*a)->col > (*b)->col;
}

static bool yt_is_merge_key(const struct yaml_tree_node *k)
{
	return k->kind == YAML_TREE_SCALAR && !k->quoted && k->len == 2 &&
	       !memcmp(k->str, "<<", 2);
}

/*
 * Duplicate keys are an error, as in the API server's YAML decoder
 * (sigs.k8s.io/yaml, strict): silently keeping one of two `port:` values
 * would route traffic by an accident of ordering.
 */
static int yt_check_dup_keys(struct yt_builder *b, struct yaml_tree_node *map)
{
	const struct yaml_tree_node **keys;
	size_t n = 0;
	int ret = 0;

	/*
	 * A key that is a map or a sequence (`? {a: b}`) is YAML but has no
	 * JSON form: the API server's decoder (sigs.k8s.io/yaml) refuses it,
	 * and every consumer here looks keys up as strings, so it would be
	 * ignored without a word.
	 */
	for (size_t i = 0; i < map->n; i++) {
		const struct yaml_tree_node *k = map->child[2 * i];

		if (k->kind != YAML_TREE_SCALAR) {
			yt_set_error(b->err, k->line, k->col,
				     "a map key must be a scalar, not a %s",
				     k->kind == YAML_TREE_MAP ? "map" : "sequence");
			return -EINVAL;
		}
	}
	if (map->n < 2)
		return 0;
	keys = malloc(map->n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < map->n; i++) {
		const struct yaml_tree_node *k = map->child[2 * i];

		if (k->kind == YAML_TREE_SCALAR && !yt_is_merge_key(k))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), yt_key_cmp);
	for (size_t i = 1; i < n; i++) {
		if (keys[i]->len != keys[i - 1]->len ||
		    memcmp(keys[i]->str, keys[i - 1]->str, keys[i]->len))
			continue;
		yt_set_error(b->err, keys[i]->line, keys[i]->col,
			     "duplicate key \"%.64s\" (first at line %u)",
			     keys[i]->str, keys[i - 1]->line);
		ret = -EINVAL;
		goto out;
	}
out:
	free(keys);
	return ret;
}

/* A new node one level below the current one, within the depth and node
 * budgets (the bounds that stop deep-nesting and alias bombs). */
static int yt_bounded_node(struct yt_builder *b, const yaml_event_t *ev,
			   enum yaml_tree_kind kind, struct yaml_tree_node **out)
{
	int ret;

	if (b->depth >= YAML_TREE_MAX_DEPTH)
		return yt_fail_at(b, &ev->start_mark, -EINVAL,
				  "nesting deeper than %u",
				  YAML_TREE_MAX_DEPTH);
	ret = yt_charge(b, &b->nodes_used, 1, YAML_TREE_MAX_NODES, "nodes",
			&ev->start_mark);
	if (ret)
		return ret;
	*out = yt_node_new(b, kind, &ev->start_mark);
	return *out ? 0 : -ENOMEM;
}

static int yt_on_scalar(struct yt_builder *b, yaml_event_t *ev)
{
	struct yaml_tree_node *n;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	int ret;

	if (len > YAML_TREE_MAX_SCALAR) {
		yt_set_error(b->err, (uint32_t)ev->start_mark.line + 1,
			     (uint32_t)ev->start_mark.column + 1,
			     "scalar of %zu bytes is longer than %u", len,
			     YAML_TREE_MAX_SCALAR);
		return -EINVAL;
	}
	ret = yt_bounded_node(b, ev, YAML_TREE_SCALAR, &n);
	if (ret)
		return ret;
	n->str = malloc(len + 1);
	if (!n->str)
		return -ENOMEM;
	memcpy(n->str, ev->data.scalar.value, len);
	n->str[len] = 0;
	n->len = len;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		    (tag && !strcmp(tag, YAML_STR_TAG));
	if (ev->data.scalar.anchor) {
		char *a = strdup((const char *)ev->data.scalar.anchor);

		if (!a)
			return -ENOMEM;
		ret = yt_anchor_add(b, a, n);
		if (ret)
			return ret;
	}
	return yt_add(b, n);
}

/* Whether the sequence starting now is the root map's `items` value of
 * a document the sink streams (asked once per document). */
static bool yt_streams_items(struct yt_builder *b)
{
	const struct yaml_tree_node *root, *key;
	const struct yaml_tree_hint *h = b->hint;

	if (!h || b->hint_asked || b->depth != 1 || b->stack[0].node->kind != YAML_TREE_MAP)
		return false;
	root = b->stack[0].node;
	if (root->n % 2 != 1) /* children stored: a key waits for its value */
		return false;
	key = root->child[root->n - 1];
	if (key->kind != YAML_TREE_SCALAR || key->len != 5 || memcmp(key->str, "items", 5))
		return false;
	b->hint_asked = true;
	return b->sink->want_items(b->sink->ctx, h);
}

static int yt_on_start(struct yt_builder *b, yaml_event_t *ev,
		       enum yaml_tree_kind kind, const yaml_char_t *anchor)
{
	struct yaml_tree_node *n;
	struct yt_open *top;
	bool stream;
	int ret;

	ret = yt_bounded_node(b, ev, kind, &n);
	if (ret)
		return ret;
	stream = kind == YAML_TREE_SEQ && yt_streams_items(b);
	top = &b->stack[b->depth++];
	memset(top, 0, sizeof(*top));
	top->node = n;
	top->stream = stream;
	if (anchor) {
		top->anchor = strdup((const char *)anchor);
		if (!top->anchor)
			return -ENOMEM;
	}
	return 0;
}

static int yt_on_end(struct yt_builder *b)
{
	struct yt_open *top = &b->stack[b->depth - 1];
	struct yaml_tree_node *n = top->node;
	char *anchor = top->anchor;
	int ret;

	top->anchor = NULL;
	b->depth--;
	if (n->kind == YAML_TREE_MAP) {
		n->n /= 2; /* children stored -> pairs */
		ret = yt_check_dup_keys(b, n);
		if (ret) {
			free(anchor);
			return ret;
		}
	}
	if (anchor) {
		ret = yt_anchor_add(b, anchor, n);
		if (ret)
			return ret;
	}
	return yt_add(b, n);
}

static int yt_on_alias(struct yt_builder *b, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct yaml_tree_node *n = yt_anchor_find(b, name);
	int ret;

	if (!n)
		return yt_fail_at(b, &ev->start_mark, -EINVAL,
				  "unknown alias \"*%.64s\"", name);
	if (b->hint) /* the scan found none (and no anchor, so unreachable) */
		return yt_fail_at(b, &ev->start_mark, -EINVAL,
				  "alias in a document that had none: file changed while it was read");
	if (b->depth + n->height > YAML_TREE_MAX_DEPTH)
		return yt_fail_at(b, &ev->start_mark, -EINVAL,
				  "alias expands deeper than %u",
				  YAML_TREE_MAX_DEPTH);
	ret = yt_charge(b, &b->expanded_used, n->weight, YAML_TREE_MAX_EXPANDED,
			"nodes added by aliases", &ev->start_mark);
	if (ret)
		return ret;
	return yt_add(b, n);
}

/* A streamed document: to the sink, then freed (nothing is kept). */
static int yt_sink_doc(struct yt_builder *b)
{
	struct yaml_tree_doc d = { .root = b->root, .line = b->doc_line, .col = b->doc_col };
	int ret = b->sink->doc(b->sink->ctx, &d);

	yt_nodes_free(b->s.owned);
	b->s.owned = NULL;
	b->root = NULL;
	yt_anchors_clear(b);
	return ret;
}

/* The scan's hint for the document starting now, or NULL. */
static void yt_on_doc_start(struct yt_builder *b, const yaml_event_t *ev)
{
	b->doc_line = (uint32_t)ev->start_mark.line + 1;
	b->doc_col = (uint32_t)ev->start_mark.column + 1;
	b->hint = NULL;
	b->hint_asked = false;
	while (b->next_hint < b->n_hints && b->hints[b->next_hint].doc < b->doc_index)
		b->next_hint++;
	if (b->next_hint < b->n_hints && b->hints[b->next_hint].doc == b->doc_index)
		b->hint = &b->hints[b->next_hint];
}

static int yt_on_doc_end(struct yt_builder *b)
{
	b->doc_index++;
	b->hint = NULL;
	if (b->sink)
		return yt_sink_doc(b);
	if (b->s.n_docs == b->docs_cap) {
		size_t cap = b->docs_cap ? b->docs_cap * 2 : 4;
		void *v = realloc(b->s.docs, cap * sizeof(*b->s.docs));

		if (!v)
			return -ENOMEM;
		b->s.docs = v;
		b->docs_cap = cap;
	}
	b->s.docs[b->s.n_docs++] = (struct yaml_tree_doc){
		.root = b->root,
		.line = b->doc_line,
		.col = b->doc_col,
	};
	b->root = NULL;
	yt_anchors_clear(b);
	return 0;
}

static int yt_on_event(struct yt_builder *b, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		yt_on_doc_start(b, ev);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return yt_on_doc_end(b);
	case YAML_SCALAR_EVENT:
		return yt_on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return yt_on_start(b, ev, YAML_TREE_SEQ,
				   ev->data.sequence_start.anchor);
	case YAML_MAPPING_START_EVENT:
		return yt_on_start(b, ev, YAML_TREE_MAP,
				   ev->data.mapping_start.anchor);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return yt_on_end(b);
	case YAML_ALIAS_EVENT:
		return yt_on_alias(b, ev);
	default:
		return 0;
	}
}

/* libyaml reports reader errors (bad UTF-8, control characters) by byte
 * offset only; turn it into a line and a column counted in characters, as
 * libyaml counts its marks. */
struct yt_pos {
	uint32_t line, col;
	bool cr;
};

static void yt_pos_feed(struct yt_pos *p, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			if (!p->cr)
				p->line++;
			p->col = 1;
			p->cr = false;
			continue;
		}
		p->cr = s[i] == '\r';
		if (p->cr) {
			p->line++;
			p->col = 1;
		} else if ((s[i] & 0xc0) != 0x80) {
			p->col++;
		}
	}
}

struct yt_src {
	int fd;
	const unsigned char *data; /* memory input, or NULL for fd */
	size_t len;
	size_t max;                /* fd input: refuse after this many */
	size_t done;
	int err;                   /* errno from read, or -EFBIG */
	size_t size;               /* bytes at the start (fstat for fd input) */
};

static int yt_read_fd(void *data, unsigned char *buf, size_t size,
		      size_t *size_read)
{
	struct yt_src *src = data;
	ssize_t r;

	/* pread at our own offset: a streamed file is read twice (the scan,
	 * then the tree), the caller's file position is left alone */
	do
		r = pread(src->fd, buf, size, (off_t)src->done);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		src->err = -errno;
		return 0;
	}
	/* The file may have grown since fstat: the bound holds anyway. */
	if ((size_t)r > src->max - src->done) {
		src->err = -EFBIG;
		return 0;
	}
	src->done += (size_t)r;
	*size_read = (size_t)r;
	return 1;
}

static void yt_offset_pos(struct yt_src *src, size_t off, struct yt_pos *p)
{
	unsigned char buf[8192];

	*p = (struct yt_pos){ .line = 1, .col = 1 };
	if (src->data) {
		yt_pos_feed(p, src->data, off < src->len ? off : src->len);
		return;
	}
	for (size_t at = 0; at < off;) {
		size_t want = off - at < sizeof(buf) ? off - at : sizeof(buf);
		ssize_t r = pread(src->fd, buf, want, (off_t)at);

		if (r <= 0)
			return;
		yt_pos_feed(p, buf, (size_t)r);
		at += (size_t)r;
	}
}

static unsigned yt_byte_at(struct yt_src *src, size_t off)
{
	unsigned char c = 0;

	if (src->data)
		return off < src->len ? src->data[off] : 0;
	return pread(src->fd, &c, 1, (off_t)off) == 1 ? c : 0;
}

/* The lead octet of the UTF-8 sequence whose trailing octet at `off` is
 * bad: at most 3 octets back, the nearest one of the form 11xxxxxx. */
static size_t yt_utf8_lead(struct yt_src *src, size_t off)
{
	for (size_t k = 1; k <= 3 && k <= off; k++)
		if ((yt_byte_at(src, off - k) & 0xc0) == 0xc0)
			return off - k;
	return off;
}

static int yt_parser_error(yaml_parser_t *p, struct yt_src *src,
			   struct yaml_tree_error *err)
{
	const yaml_mark_t *m = &p->problem_mark;
	const char *problem = p->problem ? p->problem : "unknown error";
	struct yt_pos pos;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		yt_set_error(err, 0, 0, "out of memory");
		return -ENOMEM;
	case YAML_READER_ERROR:
		if (src->err == -EFBIG) {
			yt_set_error(err, 0, 0, "file grew beyond %zu bytes",
				     src->max);
			return -EFBIG;
		}
		if (src->err) {
			yt_set_error(err, 0, 0, "read: %s", strerror(-src->err));
			return src->err;
		}
		yt_offset_pos(src, p->problem_offset, &pos);
		if (p->problem_value >= 0 &&
		    !strcmp(problem, "invalid trailing UTF-8 octet")) {
			/* libyaml points at the octet after the lead (often a
			 * plain ASCII letter: "back\xe9nd" blames the "n"); the
			 * culprit is the lead octet before it. */
			size_t lead = yt_utf8_lead(src, p->problem_offset);

			yt_offset_pos(src, lead, &pos);
			yt_set_error(err, pos.line, pos.col,
				     "invalid UTF-8 sequence: octet #%02X is not followed by a continuation octet (found #%02X): not valid UTF-8 YAML text",
				     yt_byte_at(src, lead),
				     (unsigned)p->problem_value);
		} else if (p->problem_value >= 0)
			yt_set_error(err, pos.line, pos.col,
				     "%s (#%02X): not valid UTF-8 YAML text",
				     problem, (unsigned)p->problem_value);
		else
			yt_set_error(err, pos.line, pos.col, "%s", problem);
		return -EINVAL;
	default:
		if (p->context)
			yt_set_error(err, (uint32_t)m->line + 1,
				     (uint32_t)m->column + 1,
				     "%s %s (started at line %zu)", problem,
				     p->context, p->context_mark.line + 1);
		else
			yt_set_error(err, (uint32_t)m->line + 1,
				     (uint32_t)m->column + 1, "%s", problem);
		return -EINVAL;
	}
}

static void yt_input(yaml_parser_t *parser, struct yt_src *src)
{
	src->done = 0;
	src->err = 0;
	if (src->data)
		yaml_parser_set_input_string(parser, src->data, src->len);
	else
		yaml_parser_set_input(parser, yt_read_fd, src);
}

/* The scan's view of one document, from its events alone. */
struct yt_scan {
	unsigned depth;
	bool plain;    /* a map root, no anchor, alias or merge key at it */
	bool key_next; /* at depth 1: the next node is a key */
	bool has_items;
	enum { YT_KEY_OTHER, YT_KEY_API, YT_KEY_KIND, YT_KEY_ITEMS } key; /* just read */
	struct yaml_tree_hint cur;
	struct yaml_tree_hint *hints;
	size_t n, cap;
};

static void yt_scan_key(struct yt_scan *sc, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	sc->key = YT_KEY_OTHER;
	if (len == 2 && !memcmp(v, "<<", 2) && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		sc->plain = false;
	else if (len == 10 && !memcmp(v, "apiVersion", 10))
		sc->key = YT_KEY_API;
	else if (len == 4 && !memcmp(v, "kind", 4))
		sc->key = YT_KEY_KIND;
	else if (len == 5 && !memcmp(v, "items", 5))
		sc->key = YT_KEY_ITEMS;
}

static void yt_scan_value(struct yt_scan *sc, const yaml_event_t *ev)
{
	char *to = sc->key == YT_KEY_API ? sc->cur.api : sc->key == YT_KEY_KIND ? sc->cur.kind : NULL;

	if (sc->key == YT_KEY_ITEMS)
		sc->has_items = ev->type == YAML_SEQUENCE_START_EVENT;
	else if (to && ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length < YAML_TREE_HINT_MAX)
		memcpy(to, ev->data.scalar.value, ev->data.scalar.length + 1);
	else if (to)
		sc->plain = false; /* not a string that fits: never streamed */
}

/* A node starts (scalar, collection or alias) at depth sc->depth. */
static void yt_scan_node(struct yt_scan *sc, const yaml_event_t *ev, const yaml_char_t *anchor)
{
	bool key = sc->key_next;

	if (anchor || ev->type == YAML_ALIAS_EVENT)
		sc->plain = false;
	if (sc->depth == 0 && ev->type != YAML_MAPPING_START_EVENT)
		sc->plain = false;
	if (sc->depth != 1)
		return;
	sc->key_next = !key;
	if (key && ev->type == YAML_SCALAR_EVENT) {
		yt_scan_key(sc, ev);
		return;
	}
	if (key) /* a complex key: the tree refuses the file */
		sc->plain = false;
	else
		yt_scan_value(sc, ev);
}

static int yt_scan_doc_end(struct yt_scan *sc)
{
	size_t doc = sc->cur.doc;

	if (sc->plain && sc->has_items && sc->cur.kind[0]) {
		if (sc->n == sc->cap) {
			size_t cap = sc->cap ? sc->cap * 2 : 4;
			void *v = realloc(sc->hints, cap * sizeof(*sc->hints));

			if (!v)
				return -ENOMEM;
			sc->hints = v;
			sc->cap = cap;
		}
		sc->hints[sc->n++] = sc->cur;
	}
	memset(&sc->cur, 0, sizeof(sc->cur));
	sc->cur.doc = doc + 1;
	return 0;
}

static int yt_scan_event(struct yt_scan *sc, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		sc->plain = true;
		sc->has_items = false;
		sc->key_next = true;
		sc->depth = 0;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return yt_scan_doc_end(sc);
	case YAML_SCALAR_EVENT:
		yt_scan_node(sc, ev, ev->data.scalar.anchor);
		return 0;
	case YAML_ALIAS_EVENT:
		yt_scan_node(sc, ev, NULL);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		yt_scan_node(sc, ev, ev->data.sequence_start.anchor);
		sc->depth++;
		return 0;
	case YAML_MAPPING_START_EVENT:
		yt_scan_node(sc, ev, ev->data.mapping_start.anchor);
		sc->depth++;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		sc->depth--;
		return 0;
	default:
		return 0;
	}
}

/* The first pass of a streamed parse: the hints (root apiVersion and kind
 * of each document with a root `items` sequence). Events only, one live
 * at a time: memory is the parser's. A syntax error ends the scan (the
 * tree pass reports it); 0 or -ENOMEM. */
static int yt_scan(struct yt_src *src, struct yaml_tree_hint **hints, size_t *n)
{
	struct yt_scan sc = { .cur = { .doc = 0 } };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yt_input(&parser, src);
	while (!done && !ret && yaml_parser_parse(&parser, &ev)) {
		done = ev.type == YAML_STREAM_END_EVENT;
		ret = yt_scan_event(&sc, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (ret) {
		free(sc.hints);
		return ret;
	}
	*hints = sc.hints;
	*n = sc.n;
	return 0;
}

static int yt_run(struct yt_src *src, struct yaml_tree_stream *out,
		  const struct yaml_tree_sink *sink, struct yaml_tree_error *err)
{
	struct yaml_tree_hint *hints = NULL;
	struct yt_builder *b;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int ret = 0;

	memset(err, 0, sizeof(*err));
	/* Too big for the stack: the open-container stack and anchor buckets. */
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->err = err;
	/* A small input is one tree, handed to the sink whole at the end:
	 * one pass is cheaper than two, and the tree is small. */
	b->sink = sink && src->size >= YAML_TREE_STREAM_MIN_BYTES ? sink : NULL;
	if (b->sink && yt_scan(src, &hints, &b->n_hints) < 0) {
		free(b);
		yt_set_error(err, 0, 0, "out of memory");
		return -ENOMEM;
	}
	b->hints = hints;
	if (!yaml_parser_initialize(&parser)) {
		free(hints);
		free(b);
		return -ENOMEM;
	}
	yt_input(&parser, src);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			ret = yt_parser_error(&parser, src, err);
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ret = yt_on_event(b, &ev);
		yaml_event_delete(&ev);
		if (ret) {
			if (ret == -ENOMEM)
				yt_set_error(err, 0, 0, "out of memory");
			goto out;
		}
	}
	if (out) {
		*out = b->s;
		memset(&b->s, 0, sizeof(b->s));
	}
	for (size_t i = 0; sink && !b->sink && i < b->s.n_docs && !ret; i++)
		ret = sink->doc(sink->ctx, &b->s.docs[i]);
	if (ret == -ENOMEM)
		yt_set_error(err, 0, 0, "out of memory");
out:
	while (b->depth)
		free(b->stack[--b->depth].anchor);
	yt_anchors_clear(b);
	yaml_tree_free(&b->s);
	yaml_parser_delete(&parser);
	free(hints);
	free(b);
	return ret;
}

static int yt_data(const char *data, size_t len, struct yaml_tree_stream *out,
		   const struct yaml_tree_sink *sink, struct yaml_tree_error *err)
{
	struct yt_src src = {
		.fd = -1,
		.data = (const unsigned char *)(data ? data : ""),
		.len = data ? len : 0,
		.size = data ? len : 0,
	};

	return yt_run(&src, out, sink, err);
}

int yaml_tree_load_data(const char *data, size_t len,
			struct yaml_tree_stream *out, struct yaml_tree_error *err)
{
	return yt_data(data, len, out, NULL, err);
}

int yaml_tree_stream_data(const char *data, size_t len, const struct yaml_tree_sink *sink,
			  struct yaml_tree_error *err)
{
	return yt_data(data, len, NULL, sink, err);
}

static int yt_fd(int fd, size_t max_bytes, struct yaml_tree_stream *out,
		 const struct yaml_tree_sink *sink, struct yaml_tree_error *err)
{
	struct yt_src src = { .fd = fd, .max = max_bytes };
	struct stat st;

	memset(err, 0, sizeof(*err));
	if (fstat(fd, &st) < 0) {
		yt_set_error(err, 0, 0, "fstat: %s", strerror(errno));
		return -errno;
	}
	/* A FIFO or device could block or never end; manifests are files. */
	if (!S_ISREG(st.st_mode)) {
		yt_set_error(err, 0, 0, "not a regular file");
		return -EINVAL;
	}
	if ((uintmax_t)st.st_size > max_bytes) {
		yt_set_error(err, 0, 0,
			     "file is %jd bytes, more than the %zu allowed for a manifest",
			     (intmax_t)st.st_size, max_bytes);
		return -EFBIG;
	}
	src.size = (size_t)st.st_size;
	return yt_run(&src, out, sink, err);
}

int yaml_tree_load_fd(int fd, size_t max_bytes, struct yaml_tree_stream *out,
		      struct yaml_tree_error *err)
{
	return yt_fd(fd, max_bytes, out, NULL, err);
}

int yaml_tree_stream_fd(int fd, size_t max_bytes, const struct yaml_tree_sink *sink,
			struct yaml_tree_error *err)
{
	return yt_fd(fd, max_bytes, NULL, sink, err);
}

static int yt_file(const char *path, size_t max_bytes, struct yaml_tree_stream *out,
		   const struct yaml_tree_sink *sink, struct yaml_tree_error *err)
{
	int fd, ret;

	memset(err, 0, sizeof(*err));
	/* O_NONBLOCK: a FIFO swapped in after the caller's stat() must not block
	 * the agent in open(); fstat refuses it. No effect on files. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		yt_set_error(err, 0, 0, "open: %s", strerror(errno));
		return ret;
	}
	ret = yt_fd(fd, max_bytes, out, sink, err);
	close(fd);
	return ret;
}

int yaml_tree_load_file(const char *path, size_t max_bytes, struct yaml_tree_stream *out,
			struct yaml_tree_error *err)
{
	return yt_file(path, max_bytes, out, NULL, err);
}

int yaml_tree_stream_file(const char *path, size_t max_bytes, const struct yaml_tree_sink *sink,
			  struct yaml_tree_error *err)
{
	return yt_file(path, max_bytes, NULL, sink, err);
}

bool yaml_tree_is_null(const struct yaml_tree_node *n)
{
	if (!n)
		return true;
	if (n->kind != YAML_TREE_SCALAR || n->quoted)
		return false;
	return !n->len || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
	       !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

static bool yt_key_is(const struct yaml_tree_node *k, const char *key,
		      size_t klen)
{
	return k->kind == YAML_TREE_SCALAR && k->len == klen &&
	       !memcmp(k->str, key, klen);
}

static const struct yaml_tree_node *
yt_map_get(const struct yaml_tree_node *map, const char *key, size_t klen)
{
	if (!map || map->kind != YAML_TREE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!yt_is_merge_key(map->child[2 * i]) &&
		    yt_key_is(map->child[2 * i], key, klen))
			return map->child[2 * i + 1];
	/*
	 * `<<: *base` or `<<: [*a, *b]` (YAML 1.1 merge, which the API
	 * server's go-yaml honours): earlier sources win. Recursion is bounded
	 * by the tree's height (YAML_TREE_MAX_DEPTH).
	 */
	for (size_t i = 0; i < map->n; i++) {
		const struct yaml_tree_node *v = map->child[2 * i + 1], *r;

		if (!yt_is_merge_key(map->child[2 * i]))
			continue;
		if (v->kind == YAML_TREE_MAP) {
			r = yt_map_get(v, key, klen);
			if (r)
				return r;
			continue;
		}
		if (v->kind != YAML_TREE_SEQ)
			continue;
		for (size_t j = 0; j < v->n; j++) {
			r = yt_map_get(v->child[j], key, klen);
			if (r)
				return r;
		}
	}
	return NULL;
}

const struct yaml_tree_node *yaml_tree_map_get(const struct yaml_tree_node *map,
					       const char *key)
{
	return yt_map_get(map, key, strlen(key));
}
