#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void tu__record(void *ctx, const char *line)
{
	struct tu_diag *t = ctx;
	if (t->n < TU_DIAG_MAX)
		snprintf(t->lines[t->n++], sizeof(t->lines[0]), "%s", line);
}

void tu_diag_init(struct tu_diag *t)
{
	memset(t, 0, sizeof(*t));
	t->d.report = tu__record;
	t->d.ctx = t;
}

int tu_diag_has(const struct tu_diag *t, const char *needle)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strstr(t->lines[i], needle))
			return 1;
	return 0;
}

char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/ldmesh-%s-XXXXXX", base ? base : "/tmp", tag) < 0 ||
	    !mkdtemp(path))
		abort();
	return path;
}

static void tu__mkparents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			abort();
		*p = '/';
	}
}

void tu_write(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	tu__mkparents(path);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static int tu__rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	nftw(dir, tu__rm, 16, FTW_DEPTH | FTW_PHYS);
}
