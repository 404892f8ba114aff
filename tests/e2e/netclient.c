/*
 * A plain C client built against either libc (cc, or musl-gcc for the musl
 * test), so one program shows what a libc's own resolver and connect do
 * under the preload:
 *
 *   netclient resolve NAME         getaddrinfo (IPv4, TCP): one address a line
 *   netclient ghbn NAME            gethostbyname: the first address
 *   netclient banner HOST PORT N   N connects (HOST by getaddrinfo), the first
 *                                  line each server sends, one a line
 *
 * Failures print "error: <reason>" and exit 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int resolve(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char text[INET_ADDRSTRLEN];
	int rc = getaddrinfo(name, NULL, &hints, &res);

	if (rc) {
		printf("error: %s\n", gai_strerror(rc));
		return 1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		const struct sockaddr_in *sin = (const void *)ai->ai_addr;
		printf("%s\n", inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
	}
	freeaddrinfo(res);
	return 0;
}

static int ghbn(const char *name)
{
	struct hostent *he = gethostbyname(name);
	char text[INET_ADDRSTRLEN];

	if (!he || !he->h_addr_list[0]) {
		printf("error: gethostbyname failed (h_errno %d)\n", h_errno);
		return 1;
	}
	printf("%s\n", inet_ntop(AF_INET, he->h_addr_list[0], text, sizeof(text)));
	return 0;
}

static int banner_once(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
	char line[256];
	ssize_t n, got = 0;
	int rc = getaddrinfo(host, port, &hints, &res), fd;

	if (rc) {
		printf("error: %s\n", gai_strerror(rc));
		return 1;
	}
	fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		printf("error: %s\n", strerror(errno));
		freeaddrinfo(res);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	freeaddrinfo(res);
	while (got < (ssize_t)sizeof(line) - 1 &&
	       (n = read(fd, line + got, sizeof(line) - 1 - (size_t)got)) > 0) {
		got += n;
		if (memchr(line, '\n', (size_t)got))
			break;
	}
	close(fd);
	line[got] = 0;
	line[strcspn(line, "\n")] = 0;
	printf("%s\n", got ? line : "error: no banner");
	return !got;
}

int main(int argc, char **argv)
{
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "resolve"))
		return resolve(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "ghbn"))
		return ghbn(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "banner")) {
		int n = atoi(argv[4]);
		for (int i = 0; i < n && i < 10000; i++)
			failed |= banner_once(argv[2], argv[3]);
		return failed;
	}
	fprintf(stderr, "usage: netclient resolve NAME | ghbn NAME | banner HOST PORT N\n");
	return 2;
}
