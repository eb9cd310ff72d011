/* localip: see localip.h. (Until lib/ipme lands from the qmail-remote work.) */
#include "localip.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "str.h"

static int is_mine(int family, const void *a)
{
	struct ifaddrs *list, *p;
	int found = 0;
	static const unsigned char v4loop[4] = {127, 0, 0, 1};
	if (family == AF_INET && !memcmp(a, v4loop, 4)) return 1;
	if (family == AF_INET6 && !memcmp(a, &in6addr_loopback, 16)) return 1;
	if (getifaddrs(&list) == -1) return -1;
	for (p = list; p && !found; p = p->ifa_next) {
		if (!p->ifa_addr || p->ifa_addr->sa_family != family) continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr, a, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr, a, 16);
	}
	freeifaddrs(list);
	return found;
}

int localip_address(const char *ip, size_t len)
{
	char text[64];
	unsigned char a[16];
	if (len == 0 || len >= sizeof text || mem_chr(ip, len, 0) < len) return 0;
	memcpy(text, ip, len);
	text[len] = 0;
	if (inet_pton(AF_INET, text, a) == 1) return is_mine(AF_INET, a);
	if (inet_pton(AF_INET6, text, a) == 1) return is_mine(AF_INET6, a);
	return 0;
}

int localip_literal(const char *lit, size_t len)
{
	unsigned char a[16];
	char text[64];
	if (len < 3 || lit[0] != '[' || lit[len - 1] != ']') return 0;
	lit++;
	len -= 2;
	if (len >= sizeof text || mem_chr(lit, len, 0) < len) return 0;
	if (len > 5 && mem_equal_nocase(lit, "IPv6:", 5)) {
		memcpy(text, lit + 5, len - 5);
		text[len - 5] = 0;
		if (inet_pton(AF_INET6, text, a) != 1) return 0;
		return is_mine(AF_INET6, a);
	}
	memcpy(text, lit, len);
	text[len] = 0;
	if (inet_pton(AF_INET, text, a) != 1) return 0;
	return is_mine(AF_INET, a);
}
