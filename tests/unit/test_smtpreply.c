/* Unit tests for lib/smtpreply (and the small parsers qmail-remote leans
 * on: lib/ipaddr, lib/dns's message parser). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "ipaddr.h"
#include "smtpreply.h"

static int feed(struct smtpreply *r, const char *text)
{
	/* Feeds text line by line; returns how many lines completed the reply
	 * (should be 1, on the last line). */
	int done = 0;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		done += smtpreply_line(r, p, n);
		p += n;
	}
	return done;
}

START_TEST(single_line)
{
	struct smtpreply r = {0, 0, STR_INIT};
	smtpreply_start(&r);
	ck_assert_int_eq(smtpreply_line(&r, "250 ok\r\n", 8), 1);
	ck_assert_uint_eq(r.code, 250);
	ck_assert_str_eq(str_cstr(&r.text), "250 ok\n");
	smtpreply_free(&r);
}
END_TEST

START_TEST(multi_line_and_bare_code)
{
	struct smtpreply r = {0, 0, STR_INIT};
	smtpreply_start(&r);
	ck_assert_int_eq(feed(&r, "421-one\r\n421-two\r\n421\r\n"), 1);
	ck_assert_uint_eq(r.code, 421);
	ck_assert_int_eq(r.lines, 3);
	ck_assert_str_eq(str_cstr(&r.text), "421-one\n421-two\n421\n");
	ck_assert_int_eq(smtpreply_class(r.code), 4);
	smtpreply_free(&r);
}
END_TEST

START_TEST(malformed_is_temporary)
{
	const char *bad[] = {"hello\r\n",    "25\r\n", "2x0 ok\r\n",
	                     "650 what\r\n", "\r\n",   "099 x\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
		struct smtpreply r = {0, 0, STR_INIT};
		smtpreply_start(&r);
		ck_assert_int_eq(smtpreply_line(&r, bad[i], strlen(bad[i])), 1);
		ck_assert_uint_eq(r.code, 0);
		ck_assert_int_eq(smtpreply_class(r.code), 4);
		smtpreply_free(&r);
	}
	ck_assert_int_eq(smtpreply_class(550), 5);
	ck_assert_int_eq(smtpreply_class(354), 2);
	ck_assert_int_eq(smtpreply_class(250), 2);
}
END_TEST

START_TEST(text_is_capped_and_nul_shown)
{
	struct smtpreply r = {0, 0, STR_INIT};
	char line[300];
	memset(line, 'x', sizeof line);
	memcpy(line, "250-", 4);
	line[10] = 0;
	smtpreply_start(&r);
	for (int i = 0; i < 1000; ++i)
		ck_assert_int_eq(smtpreply_line(&r, line, sizeof line), 0);
	ck_assert_int_eq(smtpreply_line(&r, "250 end", 7), 1);
	ck_assert_uint_le(r.text.len, SMTPREPLY_TEXTMAX);
	ck_assert_int_eq(r.text.s[10], '?');
	smtpreply_free(&r);
}
END_TEST

START_TEST(ehlo_keywords)
{
	struct smtpreply r = {0, 0, STR_INIT};
	const char *p;
	size_t n;
	unsigned long limit = 0;
	smtpreply_start(&r);
	feed(&r, "250-mx.example PIPELINING SIZE 1\r\n250-pipelining\r\n250-SIZE 10240000\r\n"
	         "250-8BITMIME\r\n250-AUTH=LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n");
	ck_assert_uint_eq(r.code, 250);
	ck_assert(smtpreply_ehlo_has(&r, "PIPELINING", 0, 0));
	ck_assert(smtpreply_ehlo_has(&r, "8bitmime", 0, 0));
	ck_assert(smtpreply_ehlo_has(&r, "ENHANCEDSTATUSCODES", 0, 0));
	ck_assert(!smtpreply_ehlo_has(&r, "STARTTLS", 0, 0));
	ck_assert(!smtpreply_ehlo_has(&r, "8BIT", 0, 0));
	ck_assert(smtpreply_ehlo_has(&r, "AUTH", &p, &n));
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(p, "LOGIN", 5) == 0);
	ck_assert(smtpreply_ehlo_size(&r, &limit));
	ck_assert_uint_eq(limit, 10240000);
	smtpreply_free(&r);

	/* the greeting line never counts; SIZE without a limit is no limit */
	smtpreply_start(&r);
	feed(&r, "250-host SIZE 5\r\n250 SIZE\r\n");
	ck_assert(!smtpreply_ehlo_size(&r, &limit));
	smtpreply_free(&r);
}
END_TEST

START_TEST(addresses)
{
	struct ipaddr ip;
	struct str s = STR_INIT;
	ck_assert(ipaddr_parse(&ip, "127.0.0.1", 9));
	ck_assert_int_eq(ip.family, AF_INET);
	ck_assert(ipaddr_parse_literal(&ip, "[IPv6:::1]", 10));
	ck_assert_int_eq(ip.family, AF_INET6);
	ipaddr_cat(&s, &ip);
	ck_assert_str_eq(str_cstr(&s), "::1");
	ck_assert(ipaddr_parse_literal(&ip, "[::1]", 5));
	ck_assert(!ipaddr_parse_literal(&ip, "[IPv6:1.2.3.4]", 14));
	ck_assert(!ipaddr_parse_literal(&ip, "[example.com]", 13));
	ck_assert(!ipaddr_parse(&ip, "1.2.3.4\0", 8));
	ck_assert(!ipaddr_parse(&ip, "example.com", 11));
	str_free(&s);
}
END_TEST

struct seen {
	int n;
	char owner[256];
	unsigned type;
};

static void note(void *ctx, unsigned type, const char *owner, const unsigned char *msg,
                 size_t msglen, size_t rdoff, size_t rdlen)
{
	struct seen *s = ctx;
	(void)msg;
	(void)msglen;
	(void)rdoff;
	(void)rdlen;
	s->n++;
	s->type = type;
	memcpy(s->owner, owner, strlen(owner) + 1);
}

START_TEST(dns_messages)
{
	/* header (1 answer, rcode 3), question "a.b" MX, answer with a
	 * compressed owner pointing at the question name */
	static const unsigned char ok[] = {
	    0x12, 0x34, 0x81, 0x83, 0, 1, 0, 1, 0, 0, 0, 0,  1, 'A', 1,   'b', 0, 0, 15,
	    0,    1,    0xc0, 12,   0, 1, 0, 1, 0, 0, 0, 60, 0, 4,   127, 0,   0, 1};
	struct seen s = {0, "", 0};
	ck_assert_int_eq(dns_parse_answer(ok, sizeof ok, note, &s), 3);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(s.type, 1);
	ck_assert_str_eq(s.owner, "a.b");

	/* a compression pointer that points at itself must not hang */
	unsigned char loop[sizeof ok];
	memcpy(loop, ok, sizeof ok);
	loop[21] = 0xc0;
	loop[22] = 21;
	ck_assert_int_eq(dns_parse_answer(loop, sizeof loop, note, &s), -1);

	/* every truncation of a valid message is refused, never overread */
	for (size_t n = 0; n < sizeof ok; ++n) {
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, ok, n);
		ck_assert_int_eq(dns_parse_answer(cut, n, note, &s), -1);
		free(cut);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smtpreply");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, single_line);
	tcase_add_test(tc, multi_line_and_bare_code);
	tcase_add_test(tc, malformed_is_temporary);
	tcase_add_test(tc, text_is_capped_and_nul_shown);
	tcase_add_test(tc, ehlo_keywords);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, dns_messages);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
