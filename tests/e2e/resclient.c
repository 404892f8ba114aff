/* SPDX-License-Identifier: MIT */
/*
 * res_query and friends, as a program calls them, for test_res_query.sh.
 *
 *   resclient FUNC NAME TYPE [ANSLEN]
 *
 * FUNC: query, search (the implicit state), nquery, nsearch (a state from
 * res_ninit), nquery-noinit (a zeroed state its program never
 * initialised), query-compat (glibc: __res_query@GLIBC_2.2.5, the name a
 * program built before glibc 2.34 binds). musl has query and search. TYPE: A, AAAA, SRV, PTR. Prints "rc=N h_errno=NAME
 * errno=N", then the reply as libresolv parses it (ns_initparse,
 * ns_parserr): "rcode=N an=N tc=N" and one line per answer record, or
 * "parse=fail" when what the buffer holds is not a whole message.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
int compat_res_query(const char *, int, int, unsigned char *, int);
__asm__(".symver compat_res_query,__res_query@GLIBC_2.2.5");
#endif

#ifndef NETDB_INTERNAL /* musl's netdb.h */
#define NETDB_INTERNAL (-1)
#define NETDB_SUCCESS 0
#endif

static const char *herr_name(int h)
{
	switch (h) {
	case NETDB_INTERNAL: return "NETDB_INTERNAL";
	case NETDB_SUCCESS: return "0";
	case HOST_NOT_FOUND: return "HOST_NOT_FOUND";
	case TRY_AGAIN: return "TRY_AGAIN";
	case NO_RECOVERY: return "NO_RECOVERY";
	case NO_DATA: return "NO_DATA";
	}
	return "?";
}

static int type_of(const char *s)
{
	return !strcmp(s, "A") ? ns_t_a : !strcmp(s, "AAAA") ? ns_t_aaaa
	       : !strcmp(s, "SRV") ? ns_t_srv : !strcmp(s, "PTR") ? ns_t_ptr : atoi(s);
}

static void print_rr(const ns_msg *m, const ns_rr *rr)
{
	char name[NS_MAXDNAME], addr[INET6_ADDRSTRLEN];
	const unsigned char *rd = ns_rr_rdata(*rr);

	switch (ns_rr_type(*rr)) {
	case ns_t_a:
		printf("A %s\n", inet_ntop(AF_INET, rd, addr, sizeof(addr)));
		break;
	case ns_t_aaaa:
		printf("AAAA %s\n", inet_ntop(AF_INET6, rd, addr, sizeof(addr)));
		break;
	case ns_t_srv:
		if (dn_expand(ns_msg_base(*m), ns_msg_end(*m), rd + 6, name, sizeof(name)) < 0)
			strcpy(name, "?");
		printf("SRV %u %u %u %s\n", ns_get16(rd), ns_get16(rd + 2), ns_get16(rd + 4), name);
		break;
	case ns_t_ptr:
		if (dn_expand(ns_msg_base(*m), ns_msg_end(*m), rd, name, sizeof(name)) < 0)
			strcpy(name, "?");
		printf("PTR %s\n", name);
		break;
	default:
		printf("TYPE%u\n", ns_rr_type(*rr));
	}
}

int main(int argc, char **argv)
{
	int anslen = argc > 4 ? atoi(argv[4]) : 4096;
	unsigned char *ans = calloc(1, anslen > 0 ? (size_t)anslen : 1);
	const char *fn, *name;
	struct __res_state st;
	ns_msg m;
	int rc, type, err;

	if (argc < 4 || !ans) {
		fprintf(stderr, "usage: resclient query|search|nquery|nsearch|nquery-noinit NAME TYPE [ANSLEN]\n");
		return 2;
	}
	fn = argv[1];
	name = argv[2];
	type = type_of(argv[3]);
	memset(&st, 0, sizeof(st));
#ifdef __GLIBC__
	if ((!strcmp(fn, "nquery") || !strcmp(fn, "nsearch")) && res_ninit(&st) < 0) {
		printf("res_ninit failed\n");
		return 1;
	}
#endif
	h_errno = 0;
	errno = 0;
	if (!strcmp(fn, "query"))
		rc = res_query(name, ns_c_in, type, ans, anslen);
	else if (!strcmp(fn, "search"))
		rc = res_search(name, ns_c_in, type, ans, anslen);
#ifdef __GLIBC__
	else if (!strcmp(fn, "nquery") || !strcmp(fn, "nquery-noinit"))
		rc = res_nquery(&st, name, ns_c_in, type, ans, anslen);
	else if (!strcmp(fn, "nsearch"))
		rc = res_nsearch(&st, name, ns_c_in, type, ans, anslen);
	else if (!strcmp(fn, "query-compat"))
		rc = compat_res_query(name, ns_c_in, type, ans, anslen);
#endif
	else
		return 2;
	err = errno;
	printf("rc=%d h_errno=%s errno=%d\n", rc, herr_name(h_errno), err);
	if (!strcmp(fn, "nquery") || !strcmp(fn, "nsearch"))
		printf("statp h_errno=%s\n", herr_name(st.res_h_errno));
	/* a reply is in the buffer after -1 too (NXDOMAIN, NODATA), of a
	 * length not returned: its header */
	if (rc < 0) {
		if (anslen >= HFIXEDSZ && (ans[2] & 0x80))
			printf("header rcode=%d an=%d\n", ans[3] & 15, ans[6] << 8 | ans[7]);
		return 0;
	}
	if (ns_initparse(ans, rc < anslen ? rc : anslen, &m) < 0) {
		printf("tc=%d parse=fail\n", anslen >= 3 && (ans[2] & 0x02) ? 1 : 0);
		return 0;
	}
	printf("rcode=%d an=%d tc=%d\n", ns_msg_getflag(m, ns_f_rcode), ns_msg_count(m, ns_s_an),
	       ns_msg_getflag(m, ns_f_tc));
	for (int i = 0; i < ns_msg_count(m, ns_s_an); i++) {
		ns_rr rr;

		if (ns_parserr(&m, ns_s_an, i, &rr) < 0) {
			printf("parserr=fail\n");
			break;
		}
		print_rr(&m, &rr);
	}
	return 0;
}
