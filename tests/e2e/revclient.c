/* SPDX-License-Identifier: MIT */
/*
 * Reverse lookups as a C program makes them, for test_reverse.sh: one line
 * per call, the same under the preload and without it, so the test can
 * compare the contract (return value, names, errors) and not just a name.
 *
 *   revclient gni IP PORT HOSTLEN FLAGS...   getnameinfo; FLAGS from
 *                                            namereqd nofqdn numerichost
 *                                            numericserv noserv
 *   revclient ghba IP                        gethostbyaddr
 *   revclient ghba_r IP BUFLEN               gethostbyaddr_r
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static socklen_t sockaddr_of(const char *ip, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return sizeof(*a6);
	}
	fprintf(stderr, "revclient: not an address: %s\n", ip);
	exit(2);
}

static int gni(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(argv[2], atoi(argv[3]), &ss);
	socklen_t hostlen = (socklen_t)atoi(argv[4]);
	char host[1100] = "", serv[64] = "";
	int flags = 0, want_serv = 1, rc;

	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "namereqd"))
			flags |= NI_NAMEREQD;
		else if (!strcmp(argv[i], "nofqdn"))
			flags |= NI_NOFQDN;
		else if (!strcmp(argv[i], "numerichost"))
			flags |= NI_NUMERICHOST;
		else if (!strcmp(argv[i], "numericserv"))
			flags |= NI_NUMERICSERV;
		else if (!strcmp(argv[i], "noserv"))
			want_serv = 0;
	}
	rc = getnameinfo((struct sockaddr *)&ss, len, host, hostlen, want_serv ? serv : NULL,
			 want_serv ? sizeof(serv) : 0, flags);
	if (rc)
		printf("gni rc=%s\n", rc == EAI_OVERFLOW ? "EAI_OVERFLOW"
				      : rc == EAI_NONAME ? "EAI_NONAME"
				      : rc == EAI_AGAIN  ? "EAI_AGAIN"
							 : gai_strerror(rc));
	else
		printf("gni host=%s serv=%s\n", host, serv);
	return 0;
}

static void print_hostent(const char *what, const struct hostent *he)
{
	char ip[INET6_ADDRSTRLEN];

	printf("%s name=%s type=%s len=%d", what, he->h_name,
	       he->h_addrtype == AF_INET ? "AF_INET" : "AF_INET6", he->h_length);
	for (char **a = he->h_addr_list; *a; a++)
		printf(" addr=%s", inet_ntop(he->h_addrtype, *a, ip, sizeof(ip)));
	printf(" aliases=%d\n", he->h_aliases && he->h_aliases[0] ? 1 : 0);
}

static int ghba(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(argv[2], 0, &ss);
	int af = ss.ss_family;
	const void *a = af == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
				      : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	socklen_t alen = af == AF_INET ? 4 : 16;

	(void)len;
	if (!strcmp(argv[1], "ghba")) {
		struct hostent *he = gethostbyaddr(a, alen, af);
		if (he)
			print_hostent("ghba", he);
		else
			printf("ghba NULL h_errno=%d\n", h_errno);
		return 0;
	}
	size_t buflen = (size_t)atoi(argc > 3 ? argv[3] : "1024");
	char *buf = malloc(buflen ? buflen : 1);
	struct hostent he, *res = NULL;
	int herr = 0, rc = gethostbyaddr_r(a, alen, af, &he, buf, buflen, &res, &herr);

	if (res)
		print_hostent("ghba_r", res);
	else
		printf("ghba_r rc=%d result=NULL h_errno=%d\n", rc, herr);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "gni"))
		return gni(argc, argv);
	if (argc >= 3 && !strncmp(argv[1], "ghba", 4))
		return ghba(argc, argv);
	fprintf(stderr, "usage: revclient gni IP PORT HOSTLEN [FLAGS...] | ghba IP | ghba_r IP BUFLEN\n");
	return 2;
}
