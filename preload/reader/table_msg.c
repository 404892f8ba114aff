/* SPDX-License-Identifier: MIT */
/*
 * The table's messages, built by hand into a bounded buffer from constant
 * reasons: the reader runs inside signal handlers and forks, where
 * snprintf and strerror are not safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "table_priv.h"

void table__put(struct table__msg *m, const char *s)
{
	while (*s && m->len + 1 < sizeof(m->buf))
		m->buf[m->len++] = *s++;
	m->buf[m->len] = '\0';
}

void table__put_u64(struct table__msg *m, uint64_t v)
{
	char digits[21];
	int i = sizeof(digits) - 1;

	digits[i] = '\0';
	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	table__put(m, digits + i);
}

/* strerror may translate (locale, allocation) and musl has no
 * strerrordesc_np: name the errors a table open can meet, number the
 * rest. */
static void table__put_errno(struct table__msg *m, int err)
{
	static const struct {
		int err;
		const char *text;
	} names[] = {
		{ ENOENT, "No such file or directory" },
		{ EACCES, "Permission denied" },
		{ EPERM, "Operation not permitted" },
		{ ENOTDIR, "Not a directory" },
		{ ELOOP, "Too many levels of symbolic links (a symlink?)" },
		{ EMFILE, "Too many open files" },
		{ ENFILE, "Too many open files in system" },
		{ ENOMEM, "Cannot allocate memory" },
		{ ENODEV, "No such device" },
		{ EINVAL, "Invalid argument" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err) {
			table__put(m, names[i].text);
			return;
		}
	table__put(m, "errno ");
	table__put_u64(m, (uint64_t)err);
}

void table__why(struct table__msg *m, const char *path,
		       const char *name, const char *reason, int err)
{
	table__put(m, path);
	if (name) {
		table__put(m, "/");
		table__put(m, name);
	}
	table__put(m, ": ");
	if (reason)
		table__put(m, reason);
	else
		table__put_errno(m, err);
}

void table__snap_name(char out[40], uint64_t gen)
{
	struct table__msg m = { .len = 0 };

	table__put(&m, LDMESH_SNAP_PREFIX);
	table__put_u64(&m, gen);
	memcpy(out, m.buf, m.len + 1);
}

void table__event(struct ldmesh_table *t, enum ldmesh_table_event ev,
			 uint64_t gen, const char *why)
{
	if (t->on_event)
		t->on_event(t->event_ctx, ev, gen, why);
}
