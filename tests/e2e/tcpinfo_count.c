/* SPDX-License-Identifier: MIT */
/*
 * Preloaded after libldmesh.so (LD_PRELOAD="libldmesh.so THIS"), so the
 * preload's dlsym(RTLD_NEXT, "getsockopt") finds this one: counts the
 * getsockopt(TCP_INFO) calls the process makes and writes the count to
 * $TCPINFO_COUNT_FILE at exit (test_counts_off.sh).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static atomic_uint calls;

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*next)(int, int, int, void *, socklen_t *);

	if (!next)
		next = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	if (level == IPPROTO_TCP && name == TCP_INFO)
		atomic_fetch_add(&calls, 1);
	return next(fd, level, name, val, len);
}

__attribute__((destructor)) static void tcpinfo_count_report(void)
{
	const char *path = getenv("TCPINFO_COUNT_FILE");
	FILE *f = path ? fopen(path, "w") : NULL;

	if (f) {
		fprintf(f, "%u\n", atomic_load(&calls));
		fclose(f);
	}
}
