/* cmocka tests for agent/manifest/yaml_tree.c: positions, scalar styles, aliases,
 * merge keys, documents, and every bound. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "yaml_tree.h"

static int load(const char *text, struct yaml_tree_stream *s,
		struct yaml_tree_error *e)
{
	return yaml_tree_load_data(text, strlen(text), s, e);
}

static const struct yaml_tree_node *get(const struct yaml_tree_node *m,
					const char *k)
{
	return yaml_tree_map_get(m, k);
}

static void test_positions_and_styles(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const struct yaml_tree_node *r, *n;

	assert_int_equal(load("a: 1\n"
			      "b: \"2\"\n"
			      "c:   'x'\n"
			      "d: |\n"
			      "  text\n"
			      "e: plain words\n"
			      "f: !!str 3\n"
			      "g: [x, {h: 5}]\n",
			      &s, &e),
			 0);
	assert_int_equal(s.n_docs, 1);
	r = s.docs[0].root;
	assert_int_equal(r->kind, YAML_TREE_MAP);
	assert_int_equal(r->n, 7);
	assert_int_equal(r->line, 1);
	assert_int_equal(r->col, 1);

	n = get(r, "a");
	assert_int_equal(n->kind, YAML_TREE_SCALAR);
	assert_string_equal(n->str, "1");
	assert_false(n->quoted);
	assert_int_equal(n->line, 1);
	assert_int_equal(n->col, 4);

	n = get(r, "b");
	assert_string_equal(n->str, "2");
	assert_true(n->quoted);
	assert_int_equal(n->line, 2);
	assert_int_equal(n->col, 4);

	n = get(r, "c");
	assert_true(n->quoted);
	assert_int_equal(n->col, 6);

	n = get(r, "d");
	assert_string_equal(n->str, "text\n");
	assert_true(n->quoted);

	n = get(r, "e");
	assert_string_equal(n->str, "plain words");
	assert_false(n->quoted);

	n = get(r, "f");
	assert_string_equal(n->str, "3");
	assert_true(n->quoted); /* !!str: a string whatever it looks like */

	n = get(r, "g");
	assert_int_equal(n->kind, YAML_TREE_SEQ);
	assert_int_equal(n->n, 2);
	assert_int_equal(n->line, 8);
	assert_int_equal(n->col, 4);
	assert_int_equal(n->child[1]->kind, YAML_TREE_MAP);
	assert_int_equal(n->child[1]->col, 8);
	assert_string_equal(get(n->child[1], "h")->str, "5");
	assert_int_equal(get(n->child[1], "h")->col, 12);
	assert_null(get(r, "zz"));
	assert_null(get(n, "h")); /* not a map */
	yaml_tree_free(&s);
	assert_null(s.docs);
}

static void test_json(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const struct yaml_tree_node *r;

	assert_int_equal(load("{\"port\": 80, \"name\": \"80\",\n \"x\": null}",
			      &s, &e),
			 0);
	r = s.docs[0].root;
	assert_false(get(r, "port")->quoted);
	assert_true(get(r, "name")->quoted);
	assert_int_equal(get(r, "x")->line, 2);
	assert_true(yaml_tree_is_null(get(r, "x")));
	yaml_tree_free(&s);
}

static void test_null(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const struct yaml_tree_node *r;

	assert_int_equal(load("a:\nb: ~\nc: null\nd: NULL\ne: \"\"\nf: 'null'\ng: nil\n",
			      &s, &e),
			 0);
	r = s.docs[0].root;
	assert_true(yaml_tree_is_null(get(r, "a")));
	assert_true(yaml_tree_is_null(get(r, "b")));
	assert_true(yaml_tree_is_null(get(r, "c")));
	assert_true(yaml_tree_is_null(get(r, "d")));
	assert_false(yaml_tree_is_null(get(r, "e")));
	assert_false(yaml_tree_is_null(get(r, "f")));
	assert_false(yaml_tree_is_null(get(r, "g")));
	assert_true(yaml_tree_is_null(NULL));
	yaml_tree_free(&s);
}

static void test_documents(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;

	assert_int_equal(load("a: 1\n---\n---\nb: 2\n...\n--- [3]\n", &s, &e),
			 0);
	assert_int_equal(s.n_docs, 4);
	assert_non_null(s.docs[0].root);
	/* libyaml gives an empty document an empty plain scalar: null. */
	assert_true(yaml_tree_is_null(s.docs[1].root));
	assert_int_equal(s.docs[1].line, 2);
	assert_string_equal(get(s.docs[2].root, "b")->str, "2");
	assert_int_equal(s.docs[2].root->line, 4);
	assert_int_equal(s.docs[3].root->kind, YAML_TREE_SEQ);
	yaml_tree_free(&s);

	assert_int_equal(load("", &s, &e), 0);
	assert_int_equal(s.n_docs, 0);
	yaml_tree_free(&s);
	assert_int_equal(yaml_tree_load_data(NULL, 0, &s, &e), 0);
	yaml_tree_free(&s);
	yaml_tree_free(NULL);
}

static void test_alias_by_reference(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const struct yaml_tree_node *r;

	assert_int_equal(load("base: &b {x: 1, y: 2}\n"
			      "use: *b\n"
			      "s: &s hello\n"
			      "t: *s\n",
			      &s, &e),
			 0);
	r = s.docs[0].root;
	assert_ptr_equal(get(r, "use"), get(r, "base"));
	assert_ptr_equal(get(r, "t"), get(r, "s"));
	/* The expansion is counted: root, 4 keys, base (map + 4 scalars)
	 * twice, s twice. */
	assert_int_equal(r->weight, 1 + 4 + 5 + 5 + 1 + 1);
	yaml_tree_free(&s);
}

static void test_merge_key(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const struct yaml_tree_node *m;

	assert_int_equal(load("base: &b {x: 1, y: 2}\n"
			      "other: &o {z: 9}\n"
			      "m:\n"
			      "  <<: [*b, *o]\n"
			      "  y: 3\n",
			      &s, &e),
			 0);
	m = get(s.docs[0].root, "m");
	assert_string_equal(get(m, "x")->str, "1");
	assert_string_equal(get(m, "y")->str, "3"); /* own keys win */
	assert_string_equal(get(m, "z")->str, "9");
	assert_null(get(m, "<<"));
	yaml_tree_free(&s);
}

static void test_alias_errors(void **state)
{
	struct yaml_tree_stream s = { .n_docs = 77 };
	struct yaml_tree_error e;

	assert_int_equal(load("a: 1\nb: *nope\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.col, 4);
	assert_string_equal(e.msg, "unknown alias \"*nope\"");
	assert_int_equal(s.n_docs, 77); /* untouched */

	/* An alias inside its own anchor would be a cycle. */
	assert_int_equal(load("a: &a [1, *a]\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, 11);

	/* Anchors do not cross documents. */
	assert_int_equal(load("a: &x 1\n---\nb: *x\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 3);
	assert_int_equal(s.n_docs, 77);
}

static void test_alias_bomb(void **state)
{
	struct yaml_tree_stream s = { .n_docs = 77 };
	struct yaml_tree_error e;
	int ret;

	ret = yaml_tree_load_file(LDMESH_FIXTURES
				  "/manifests/invalid/alias-bomb.yaml",
				  1 << 20, &s, &e);
	assert_int_equal(ret, -EINVAL);
	/* Refused at the first alias that crosses the budget: *f on line 7. */
	assert_int_equal(e.line, 7);
	assert_int_equal(e.col, 8);
	assert_non_null(strstr(e.msg, "more than 1000000 nodes added by aliases"));
	assert_int_equal(s.n_docs, 77);
}

/*
 * Written nodes are not alias expansions: a big kubectl List (1.5 million
 * nodes here, with no alias) loads; the alias budget was charged for every
 * node and refused it (issue 9, item 5).
 */
static void test_many_written_nodes(void **state)
{
	const size_t n = 1500000;
	char *t = malloc(2 * n + 4);
	struct yaml_tree_stream s;
	struct yaml_tree_error e;

	assert_non_null(t);
	t[0] = '[';
	for (size_t i = 0; i < n; i++) {
		t[1 + 2 * i] = '0';
		t[2 + 2 * i] = ',';
	}
	t[2 * n] = ']';
	t[2 * n + 1] = '\n';
	t[2 * n + 2] = 0;
	assert_int_equal(load(t, &s, &e), 0);
	assert_int_equal(s.docs[0].root->n, n);
	yaml_tree_free(&s);
	free(t);
}

static char *nested(unsigned depth)
{
	char *t = malloc(2 * depth + 2);

	memset(t, '[', depth);
	memset(t + depth, ']', depth);
	t[2 * depth] = '\n';
	t[2 * depth + 1] = 0;
	return t;
}

static void test_depth_bomb(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	char *t;

	t = nested(YAML_TREE_MAX_DEPTH);
	assert_int_equal(load(t, &s, &e), 0);
	assert_int_equal(s.docs[0].root->height, YAML_TREE_MAX_DEPTH);
	yaml_tree_free(&s);
	free(t);

	t = nested(100000);
	assert_int_equal(load(t, &s, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, YAML_TREE_MAX_DEPTH + 1);
	assert_non_null(strstr(e.msg, "nesting deeper than 64"));
	free(t);

	/* A scalar one level below the deepest container is too deep too. */
	t = malloc(2 * YAML_TREE_MAX_DEPTH + 3);
	memset(t, '[', YAML_TREE_MAX_DEPTH);
	t[YAML_TREE_MAX_DEPTH] = 'x';
	memset(t + YAML_TREE_MAX_DEPTH + 1, ']', YAML_TREE_MAX_DEPTH);
	t[2 * YAML_TREE_MAX_DEPTH + 1] = 0;
	assert_int_equal(load(t, &s, &e), -EINVAL);
	assert_int_equal(e.col, YAML_TREE_MAX_DEPTH + 1);
	free(t);

	/* Depth reached through an alias is depth too. */
	t = malloc(4096);
	strcpy(t, "a: &deep ");
	for (int i = 0; i < 40; i++)
		strcat(t, "[");
	for (int i = 0; i < 40; i++)
		strcat(t, "]");
	strcat(t, "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*deep]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
	assert_int_equal(load(t, &s, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_non_null(strstr(e.msg, "alias expands deeper"));
	free(t);
}

static void test_long_scalar(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	size_t n = YAML_TREE_MAX_SCALAR + 1;
	char *t = malloc(n + 8);

	memcpy(t, "a: ", 3);
	memset(t + 3, 'x', n);
	strcpy(t + 3 + n, "\n");
	assert_int_equal(load(t, &s, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, 4);
	assert_non_null(strstr(e.msg, "longer than"));
	t[3 + n - 1] = '\n';
	t[3 + n] = 0;
	assert_int_equal(load(t, &s, &e), 0);
	assert_int_equal(get(s.docs[0].root, "a")->len, YAML_TREE_MAX_SCALAR);
	yaml_tree_free(&s);
	free(t);
}

static void test_duplicate_key(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;

	assert_int_equal(load("a: 1\nb:\n  port: 80\n  x: 2\n  port: 81\n", &s,
			      &e),
			 -EINVAL);
	assert_int_equal(e.line, 5);
	assert_int_equal(e.col, 3);
	assert_string_equal(e.msg,
			    "duplicate key \"port\" (first at line 3)");
}

static void test_syntax_error(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;

	assert_int_equal(load("a: [1, 2\nb: 3\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.col, 2);
	assert_non_null(strstr(e.msg, "flow sequence"));

	assert_int_equal(load("a: b: c\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, 5);
	assert_string_equal(e.msg,
			    "mapping values are not allowed in this context");
}

static void test_bad_utf8(void **state)
{
	struct yaml_tree_stream s;
	struct yaml_tree_error e;
	const char t[] = "a: 1\nb: caf\xc3\xa9 \xfe\n";

	assert_int_equal(yaml_tree_load_data(t, sizeof(t) - 1, &s, &e),
			 -EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.col, 9); /* é is one character */
	assert_non_null(strstr(e.msg, "#FE"));

	assert_int_equal(load("a: \x01\n", &s, &e), -EINVAL);
	assert_int_equal(e.line, 1);
	assert_int_equal(e.col, 4);
	assert_non_null(strstr(e.msg, "control characters"));
}

static void test_file_bounds(void **state)
{
	struct yaml_tree_stream s = { .n_docs = 77 };
	struct yaml_tree_error e;
	char *dir = tu_tmpdir("yt");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	/* Sparse: refused by size, never read. */
	assert_int_equal(ftruncate(fd, 4097), 0);
	close(fd);
	assert_int_equal(yaml_tree_load_file(path, 4096, &s, &e), -EFBIG);
	assert_int_equal(e.line, 0);
	assert_string_equal(e.msg,
			    "file is 4097 bytes, more than the 4096 allowed for a manifest");

	assert_int_equal(yaml_tree_load_file(dir, 4096, &s, &e), -EINVAL);
	assert_string_equal(e.msg, "not a regular file");

	snprintf(path, sizeof(path), "%s/nope.yaml", dir);
	assert_int_equal(yaml_tree_load_file(path, 4096, &s, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "open: "));
	assert_int_equal(s.n_docs, 77);

	tu_write(dir, "ok.yaml", "a: [1, 2]\n---\nb: 3\n");
	snprintf(path, sizeof(path), "%s/ok.yaml", dir);
	assert_int_equal(yaml_tree_load_file(path, 4096, &s, &e), 0);
	assert_int_equal(s.n_docs, 2);
	assert_string_equal(get(s.docs[1].root, "b")->str, "3");
	yaml_tree_free(&s);

	/* Reader errors in files are placed by re-reading up to the offset. */
	tu_write(dir, "bad.yaml", "a: 1\n\nbb: x\xff\n");
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	assert_int_equal(yaml_tree_load_file(path, 4096, &s, &e), -EINVAL);
	assert_int_equal(e.line, 3);
	assert_int_equal(e.col, 6);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions_and_styles),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_alias_by_reference),
		cmocka_unit_test(test_merge_key),
		cmocka_unit_test(test_alias_errors),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_many_written_nodes),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_long_scalar),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_file_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
