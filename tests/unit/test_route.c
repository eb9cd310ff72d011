/* Unit tests for lib/route and lib/queue's parsers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"
#include "queue.h"
#include "route.h"
#include "str.h"

static struct route r;

static void setup_route(void)
{
	memset(&r, 0, sizeof r);
	str_copys(&r.me, "me.example");
	str_copys(&r.envnoathost, "noat.example");
	str_copyb(&r.locals, "me.example\0local.example\0", 25);
	str_copyb(&r.percenthack, "hack.example\0", 13);
	/* key \0 prepend \0 pairs, keys lowercased as route_load stores them */
	str_copyb(&r.virtualdomains,
	          "virt.example\0joe\0.wild.example\0bob\0vip@full.example\0ann\0"
	          "notvirt.virt2.example\0\0.virt2.example\0sue\0\0catch\0",
	          sizeof "virt.example\0joe\0.wild.example\0bob\0vip@full.example\0ann\0"
	                 "notvirt.virt2.example\0\0.virt2.example\0sue\0\0catch\0" - 1);
}

static void expect(const char *in, int kind, const char *out)
{
	struct str o = STR_INIT;
	int k = route_recipient(&r, in, strlen(in), &o);
	ck_assert_int_eq(k, kind);
	ck_assert_str_eq(str_cstr(&o), out);
	str_free(&o);
}

START_TEST(locals_and_envnoathost)
{
	setup_route();
	expect("a@me.example", ROUTE_LOCAL, "a@me.example");
	expect("A@LOCAL.Example", ROUTE_LOCAL, "A@LOCAL.Example");
	expect("a", ROUTE_LOCAL, "catch-a@noat.example"); /* via the catch-all */
}
END_TEST

START_TEST(virtual_domains)
{
	setup_route();
	expect("x@virt.example", ROUTE_LOCAL, "joe-x@virt.example");
	expect("X@Virt.Example", ROUTE_LOCAL, "joe-X@Virt.Example");
	expect("y@a.b.wild.example", ROUTE_LOCAL, "bob-y@a.b.wild.example");
	expect("vip@full.example", ROUTE_LOCAL, "ann-vip@full.example");
	/* an empty prepend stops the search: not virtual, so remote */
	expect("z@notvirt.virt2.example", ROUTE_REMOTE, "z@notvirt.virt2.example");
	expect("z@other.virt2.example", ROUTE_LOCAL, "sue-z@other.virt2.example");
	/* the empty key catches everything else */
	expect("q@far.example", ROUTE_LOCAL, "catch-q@far.example");
}
END_TEST

START_TEST(percent_hack)
{
	setup_route();
	expect("u%me.example@hack.example", ROUTE_LOCAL, "u@me.example");
	expect("u%v%hack.example@hack.example", ROUTE_LOCAL, "catch-u@v");
}
END_TEST

START_TEST(queue_header_round_trip)
{
	struct queue_header h = {1795682799, 123456789, 42, 1000, 5000, 77}, g;
	char buf[QUEUE_HEADER_LEN];
	queue_header_format(buf, &h);
	ck_assert_int_eq(buf[QUEUE_HEADER_LEN - 1], '\n');
	ck_assert_int_eq(queue_header_parse(buf, sizeof buf, &g), 0);
	ck_assert_uint_eq(g.birth, h.birth);
	ck_assert_uint_eq(g.birth_nsec, h.birth_nsec);
	ck_assert_uint_eq(g.msglen, 5000);
	ck_assert_uint_eq(g.envlen, 77);
	buf[3] = 'X';
	ck_assert_int_eq(queue_header_parse(buf, sizeof buf, &g), -1);
}
END_TEST

START_TEST(envelope_validation)
{
	ck_assert(queue_envelope_valid("Fa@b\0Tc@d\0", 10));
	ck_assert(queue_envelope_valid("F\0", 2));
	ck_assert(!queue_envelope_valid("Tc@d\0", 5));
	ck_assert(!queue_envelope_valid("Fa@b\0Xc\0", 8));
	ck_assert(!queue_envelope_valid("Fa@b", 4));
}
END_TEST

START_TEST(info_parse)
{
	struct queue_info in = {7, 8, {9, 10}, 2, STR_INIT, STR_INIT}, out = in;
	struct str f = STR_INIT;
	char h[QUEUE_INFO_HEADER_LEN];
	queue_info_format_header(h, &in);
	str_catb(&f, h, sizeof h);
	str_catb(&f, "s@x\0.La@b\0DRc@d\0", 16);
	out.sender.s = out.recips.s = 0;
	out.sender.len = out.recips.len = out.sender.cap = out.recips.cap = 0;
	ck_assert_int_eq(queue_info_parse(f.s, f.len, &out), 0);
	ck_assert_uint_eq(out.next[1], 10);
	ck_assert_uint_eq(out.nrecip, 2);
	ck_assert_str_eq(str_cstr(&out.sender), "s@x");
	f.len -= 7; /* a recipient cut short */
	ck_assert_int_eq(queue_info_parse(f.s, f.len, &out), -1);
}
END_TEST

START_TEST(ids_file)
{
	struct ids ids;
	const char *f = "mode=system\nalias=7790:2108\nqmails=7796:2107\nqmail=2107\nnofiles=2108\n";
	ck_assert_int_eq(ids_parse(f, strlen(f), &ids), 0);
	ck_assert_int_eq(ids.system, 1);
	ck_assert_int_eq(ids.uid[IDS_ALIAS], 7790);
	ck_assert_int_eq(ids.gid[IDS_QMAILS], 2107);
	ck_assert_int_eq(ids.gid_nofiles, 2108);
	/* roles not named keep the caller's ids */
	ck_assert_int_eq(ids.uid[IDS_QMAILR], (long)getuid());
	ck_assert_int_eq(ids_parse("mode=other\n", 11, &ids), -1);
	ck_assert_int_eq(ids_parse("alias=x:1\n", 10, &ids), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, locals_and_envnoathost);
	tcase_add_test(tc, virtual_domains);
	tcase_add_test(tc, percent_hack);
	tcase_add_test(tc, queue_header_round_trip);
	tcase_add_test(tc, envelope_validation);
	tcase_add_test(tc, info_parse);
	tcase_add_test(tc, ids_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
