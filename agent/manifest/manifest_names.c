/* SPDX-License-Identifier: MIT */
/*
 * Kubernetes name and address rules, as in
 * k8s.io/apimachinery/pkg/util/validation/validation.go and
 * k8s.io/utils/net (the strict parser the API server validates with).
 */
#include "manifest_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static bool mf_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool mf_alnum(char ch)
{
	return mf_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n). */
static bool mf_label_chars(const char *s, size_t n)
{
	if (!n || !mf_lower_alnum(s[0]) || !mf_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!mf_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 label: at most 63 characters (DNS1123LabelMaxLength). */
bool mf_is_dns1123_label(const char *s)
{
	size_t n = strlen(s);

	return n <= 63 && mf_label_chars(s, n);
}

/* RFC 1035 label: as RFC 1123 but must start with a letter. Service
 * names are DNS-1035 labels so that `svc.ns.svc` is a valid host name. */
bool mf_is_dns1035_label(const char *s)
{
	return mf_is_dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

/* RFC 1123 subdomain: dot-separated labels, 253 characters in all
 * (DNS1123SubdomainMaxLength). */
bool mf_is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (!mf_label_chars(p, len))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/* IANA_SVC_NAME (RFC 6335 section 5.1): 1-15 characters of [-a-z0-9], at
 * least one letter, no leading, trailing or double hyphen. A named
 * targetPort or containerPort must be one. */
bool mf_is_iana_svc_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	if (!n || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n), the "qualified
 * name" body used by label keys and values. */
static bool mf_qualified_chars(const char *s, size_t n)
{
	if (!n || !mf_alnum(s[0]) || !mf_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!mf_alnum(s[i]) && s[i] != '-' && s[i] != '_' &&
		    s[i] != '.')
			return false;
	return true;
}

/* IsQualifiedName: [prefix/]name, prefix a DNS-1123 subdomain, name at
 * most 63 characters. */
bool mf_is_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;
	size_t n = strlen(name);

	if (slash) {
		char prefix[254];
		size_t plen = (size_t)(slash - s);

		if (!plen || plen >= sizeof(prefix))
			return false;
		memcpy(prefix, s, plen);
		prefix[plen] = 0;
		if (!mf_is_dns1123_subdomain(prefix))
			return false;
	}
	return n <= 63 && mf_qualified_chars(name, n);
}

/* IsValidLabelValue: empty, or a qualified-name body of at most 63. */
bool mf_is_label_value(const char *s)
{
	size_t n = strlen(s);

	return !n || (n <= 63 && mf_qualified_chars(s, n));
}

/*
 * Dotted quad only, each part 0-255 without leading zeros: "010.1.1.1" is
 * refused because inet_aton would read 010 as octal 8 while other tools
 * read it as decimal 10 (CVE-2021-29923), the reason the API server moved
 * to a strict parser.
 */
static int mf_parse_ipv4(const char *s, uint8_t out[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
			return -EINVAL;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255)
			return -EINVAL;
		out[i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

int manifest_parse_ip(const char *text, uint8_t out[16])
{
	uint8_t v4[4], v6[16];

	if (!text)
		return -EINVAL;
	if (!strchr(text, ':')) {
		if (mf_parse_ipv4(text, v4) < 0)
			return -EINVAL;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, v6) != 1)
		return -EINVAL;
	memcpy(out, v6, 16);
	return 0;
}
