/* SPDX-License-Identifier: MIT */
/* What the agent's sources say about a file (agent/sources.c): a broken
 * file is reported once per content, whatever re-reads it; what became of
 * a path (new, changed, removed) goes to the diag's note. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sources.h"
#include "testutil.h"

static const char bad1[] = "apiVersion: v1\nkind: Service\nmetadata: [oops\n";
static const char bad2[] = "apiVersion: v1\nkind: Service\nmetadata: x: y\n";
static const char good[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
			   "spec: {ports: [{port: 80}]}\n";

static unsigned notes_with(const struct tu_diag *t, const char *needle)
{
	unsigned n = 0;

	for (unsigned i = 0; i < t->n_notes; i++)
		n += strstr(t->notes[i], needle) != NULL;
	return n;
}

static void test_broken_once_per_content(void **state)
{
	char *dir = tu_tmpdir("srcrep"), *f = tu_path_in(dir, "a.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	tu_diag_init(&t);
	tu_write(dir, "a.yaml", bad1);
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_int_equal(t.n, 1);
	/* forced (inotify), and rewritten with the same bytes (a new inode,
	 * as a ..data swap gives): noted, not reported */
	assert_int_equal(sources_update(&s, f, true, &t.d), 0);
	unlink(f);
	tu_write(dir, "a.yaml", bad1);
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	sources_forget_ids(&s); /* SIGHUP */
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(notes_with(&t, "read again, the same bytes"), 3);
	/* new bytes, a new error: reported */
	tu_write(dir, "a.yaml", bad2);
	assert_int_equal(sources_update(&s, f, true, &t.d), 0);
	assert_int_equal(t.n, 2);
	assert_non_null(strstr(t.lines[1], "mapping values"));
	/* and the first error again, after the second: a change, reported */
	tu_write(dir, "a.yaml", bad1);
	assert_int_equal(sources_update(&s, f, true, &t.d), 0);
	assert_int_equal(t.n, 3);
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_what_became_of_a_path(void **state)
{
	char *dir = tu_tmpdir("srcrep"), *f = tu_path_in(dir, "a.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	tu_diag_init(&t);
	tu_write(dir, "a.yaml", good);
	assert_int_equal(sources_update(&s, f, true, &t.d), 1);
	assert_int_equal(notes_with(&t, "a.yaml: new"), 1);
	tu_write(dir, "a.yaml", good);
	assert_int_equal(sources_update(&s, f, true, &t.d), 1);
	assert_int_equal(notes_with(&t, "a.yaml: changed"), 1);
	unlink(f);
	assert_int_equal(sources_update(&s, f, true, &t.d), 1);
	assert_int_equal(notes_with(&t, "a.yaml: removed"), 1);
	assert_int_equal(notes_with(&t, "changed"), 1);
	/* a rescan that finds it gone says the same */
	tu_write(dir, "a.yaml", good);
	assert_true(sources_rescan(&s, dir, &t.d) > 0);
	unlink(f);
	assert_true(sources_rescan(&s, dir, &t.d) > 0);
	assert_int_equal(notes_with(&t, "a.yaml: removed"), 2);
	assert_int_equal(t.n, 0);
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broken_once_per_content),
		cmocka_unit_test(test_what_became_of_a_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
