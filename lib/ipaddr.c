/* ipaddr: see ipaddr.h. */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int ipaddr_parse(struct ipaddr *ip, const char *s, size_t len)
{
	char tmp[64];
	if (len == 0 || len >= sizeof tmp) return 0;
	if (mem_chr(s, len, 0) < len) return 0;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	memset(ip, 0, sizeof *ip);
	if (inet_pton(AF_INET, tmp, ip->a) == 1) {
		ip->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, tmp, ip->a) == 1) {
		ip->family = AF_INET6;
		return 1;
	}
	return 0;
}

int ipaddr_parse_literal(struct ipaddr *ip, const char *s, size_t len)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']') return 0;
	s += 1;
	len -= 2;
	if (len > 5 && mem_equal_nocase(s, "IPv6:", 5)) {
		if (!ipaddr_parse(ip, s + 5, len - 5)) return 0;
		return ip->family == AF_INET6;
	}
	return ipaddr_parse(ip, s, len);
}

void ipaddr_cat(struct str *out, const struct ipaddr *ip)
{
	char tmp[INET6_ADDRSTRLEN];
	if (!inet_ntop(ip->family, ip->a, tmp, sizeof tmp)) {
		str_cats(out, "?");
		return;
	}
	str_cats(out, tmp);
}

int ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y)
{
	if (x->family != y->family) return 0;
	return memcmp(x->a, y->a, x->family == AF_INET ? 4 : 16) == 0;
}

socklen_t ipaddr_sockaddr(const struct ipaddr *ip, unsigned port, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof *sa);
	if (ip->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		memcpy(&s4->sin_addr, ip->a, 4);
		return sizeof *s4;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((unsigned short)port);
	memcpy(&s6->sin6_addr, ip->a, 16);
	return sizeof *s6;
}

int ipaddr_from_sockaddr(struct ipaddr *ip, const struct sockaddr *sa)
{
	memset(ip, 0, sizeof *ip);
	if (sa->sa_family == AF_INET) {
		ip->family = AF_INET;
		memcpy(ip->a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a =
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			ip->family = AF_INET;
			memcpy(ip->a, a + 12, 4);
			return 1;
		}
		ip->family = AF_INET6;
		memcpy(ip->a, a, 16);
		return 1;
	}
	return 0;
}
