/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool sync_folder_valid_name(const char *s, bool label)
{
	size_t n = s ? strlen(s) : 0;

	/* DNS-1123: 253 bytes for a subdomain, 63 for a label; lowercase
	 * alphanumerics, '-' and (subdomain only) '.', alphanumeric at both
	 * ends. A leading '.' would hide the file from the agent. */
	if (n == 0 || n > (label ? 63u : 253u))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if ((c == '-' || (c == '.' && !label)) && i > 0 && i + 1 < n)
			continue;
		return false;
	}
	return true;
}

int sync_folder_file_name(const char *ns, const char *name, char *out, size_t n)
{
	int len;

	if (!sync_folder_valid_name(name, false) ||
	    (ns && !sync_folder_valid_name(ns, true)))
		return -EINVAL;
	len = ns ? snprintf(out, n, "%s__%s.json", ns, name)
		 : snprintf(out, n, "%s.json", name);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static int folder__mkdir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int sync_folder_prepare(const char *dir, const char *resource)
{
	char path[PATH_MAX];
	int ret = folder__mkdir(dir);

	if (ret)
		return ret;
	if (snprintf(path, sizeof(path), "%s/%s", dir, resource) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return folder__mkdir(path);
}

/* Does `path` already hold exactly these bytes? Any doubt says no. */
static bool folder__same(const char *path, const char *text, size_t len)
{
	struct stat st;
	bool same = false;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len &&
	    (buf = malloc(len ? len : 1))) {
		same = read(fd, buf, len) == (ssize_t)len && !memcmp(buf, text, len);
		free(buf);
	}
	close(fd);
	return same;
}

static int folder__write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int sync_folder_put(const char *dir, const char *resource, const char *file,
		    const char *text, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, resource, file) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s/.%s.tmp.XXXXXX", dir, resource, file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (folder__same(path, text, len))
		return 0;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = folder__write_all(fd, text, len);
	/* mkostemp makes 0600; the agent may run as another user. */
	if (!ret && fchmod(fd, 0644))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	/* No fsync: the folder is rebuilt by a relist after a crash, and an
	 * fsync per object would cost a disk flush per event. rename alone
	 * still never shows a reader half a file. */
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int sync_folder_remove(const char *dir, const char *resource, const char *file)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, resource, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int sync_names_add(struct sync_names *s, const char *file)
{
	char *dup;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	dup = strdup(file);
	if (!dup)
		return -ENOMEM;
	s->v[s->n++] = dup;
	s->sorted = false;
	return 0;
}

static int names__cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool sync_names_has(struct sync_names *s, const char *file)
{
	if (!s->sorted) {
		if (s->n)
			qsort(s->v, s->n, sizeof(*s->v), names__cmp);
		s->sorted = true;
	}
	return s->n && bsearch(&file, s->v, s->n, sizeof(*s->v), names__cmp);
}

void sync_names_free(struct sync_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool folder__ours(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

int sync_folder_prune(const char *dir, const char *resource,
		      struct sync_names *keep, size_t *removed)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	*removed = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, resource) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		int r;

		if (!folder__ours(de->d_name) || sync_names_has(keep, de->d_name))
			continue;
		r = unlinkat(dirfd(d), de->d_name, 0);
		if (r == 0)
			(*removed)++;
		else if (errno != ENOENT && !ret)
			ret = -errno;
	}
	closedir(d);
	return ret;
}
