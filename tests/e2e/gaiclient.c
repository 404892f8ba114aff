/*
 * getaddrinfo's whole result, one node a line, for comparing two answers
 * to the same call (built with musl-gcc by test_musl_resolver_vip.sh):
 *
 *   gaiclient NAME FAMILY FLAGS SERVICE
 *   gaiclient -h FUNC NAME FAMILY
 *
 * FAMILY 0, 4 or 6; FLAGS a comma list of canon, v4mapped, all,
 * addrconfig, numericserv (or "-"); SERVICE "-" for none. Each node:
 * "family address socktype protocol port canonname"; a failure
 * "error <EAI_ name>". With -h, FUNC (gethostbyname, gethostbyname2,
 * gethostbyname_r, gethostbyname2_r; the first and third take IPv4 only)
 * and the hostent: "name N", "alias A" and "addr X" lines, or
 * "error rc=N h_errno=N".
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const struct {
	const char *name;
	int flag;
} flags[] = {
	{ "canon", AI_CANONNAME }, { "v4mapped", AI_V4MAPPED }, { "all", AI_ALL },
	{ "addrconfig", AI_ADDRCONFIG }, { "numericserv", AI_NUMERICSERV },
};

static const struct {
	const char *name;
	int code;
} errors[] = {
	{ "EAI_NONAME", EAI_NONAME }, { "EAI_NODATA", EAI_NODATA }, { "EAI_AGAIN", EAI_AGAIN },
	{ "EAI_FAIL", EAI_FAIL },     { "EAI_SERVICE", EAI_SERVICE }, { "EAI_SYSTEM", EAI_SYSTEM },
	{ "EAI_FAMILY", EAI_FAMILY }, { "EAI_SOCKTYPE", EAI_SOCKTYPE },
};

static int parse_flags(const char *s)
{
	int f = 0;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strstr(s, flags[i].name))
			f |= flags[i].flag;
	return f;
}

static void print_node(const struct addrinfo *ai)
{
	char text[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ai->ai_addr;
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		port = ntohs(in->sin_port);
	} else if (ai->ai_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		port = ntohs(in6->sin6_port);
	}
	printf("%d %s %d %d %d %s\n", ai->ai_family, text, ai->ai_socktype, ai->ai_protocol, port,
	       ai->ai_canonname ? ai->ai_canonname : "-");
}

static int hostent_call(const char *fn, const char *name, int af)
{
	static char buf[4096];
	struct hostent he, *h = NULL;
	char text[INET6_ADDRSTRLEN];
	int rc = 0, err = 0;

	if (!strcmp(fn, "gethostbyname"))
		h = gethostbyname(name), err = h_errno;
	else if (!strcmp(fn, "gethostbyname2"))
		h = gethostbyname2(name, af), err = h_errno;
	else if (!strcmp(fn, "gethostbyname_r"))
		rc = gethostbyname_r(name, &he, buf, sizeof(buf), &h, &err);
	else
		rc = gethostbyname2_r(name, af, &he, buf, sizeof(buf), &h, &err);
	if (!h) {
		printf("error rc=%d h_errno=%d\n", rc, err);
		return 1;
	}
	printf("name %s\n", h->h_name);
	for (char **a = h->h_aliases; *a; a++)
		printf("alias %s\n", *a);
	for (char **a = h->h_addr_list; *a; a++)
		printf("addr %s\n", inet_ntop(h->h_addrtype, *a, text, sizeof(text)));
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int rc;

	if (argc == 5 && !strcmp(argv[1], "-h"))
		return hostent_call(argv[2], argv[3], argv[4][0] == '6' ? AF_INET6 : AF_INET);
	if (argc != 5) {
		fprintf(stderr, "usage: gaiclient NAME FAMILY FLAGS SERVICE | -h FUNC NAME FAMILY\n");
		return 2;
	}
	hints.ai_family = argv[2][0] == '4' ? AF_INET : argv[2][0] == '6' ? AF_INET6 : AF_UNSPEC;
	hints.ai_flags = parse_flags(argv[3]);
	rc = getaddrinfo(argv[1], strcmp(argv[4], "-") ? argv[4] : NULL, &hints, &res);
	if (rc) {
		for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
			if (errors[i].code == rc) {
				printf("error %s\n", errors[i].name);
				return 1;
			}
		printf("error %d\n", rc);
		return 1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		print_node(ai);
	freeaddrinfo(res);
	return 0;
}
