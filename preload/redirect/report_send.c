/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ldmesh/report.h"
#include "real.h"
#include "report_send.h"

static int report__path(const char *table_dir, struct sockaddr_un *sun, socklen_t *sl)
{
	size_t n = strlen(table_dir), k = sizeof(LDMESH_REPORT_SOCK_SUFFIX);

	if (!n || n + k > sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, table_dir, n);
	memcpy(sun->sun_path + n, LDMESH_REPORT_SOCK_SUFFIX, k);
	*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + k);
	return 0;
}

/* The same rule as the table's files (ldmesh/snapshot.h, Trust): a socket
 * someone else made there would receive what we say of our backends. */
static int report__trusted(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return -EPERM;
	return 0;
}

int report_reachable(const char *table_dir)
{
	struct sockaddr_un sun;
	socklen_t sl;
	int saved = errno, rc = report__path(table_dir, &sun, &sl);

	if (!rc)
		rc = report__trusted(sun.sun_path);
	errno = saved;
	return rc;
}

int report_send(const char *table_dir, const void *msg, size_t len)
{
	struct sockaddr_un sun;
	socklen_t sl;
	int saved = errno, fd, rc;

	if (len < sizeof(struct ldmesh_report_hdr) || len > LDMESH_REPORT_MAX)
		return -EINVAL;
	if (!real.socket || !real.sendto || !real.close)
		return -ENOSYS;
	rc = report__path(table_dir, &sun, &sl);
	if (!rc)
		rc = report__trusted(sun.sun_path);
	if (rc)
		goto out;
	fd = real.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (real.sendto(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&sun,
			sl) < 0)
		rc = -errno;
	real.close(fd);
out:
	errno = saved;
	return rc;
}
