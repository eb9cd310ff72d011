/* Unit tests for lib/tlspolicy: the control/tlsdestinations format. */
#include <check.h>
#include <string.h>

#include "tlspolicy.h"

static struct tlspolicy p;

static int parse(const char *s) { return tlspolicy_parse(&p, s, strlen(s)); }

static int lookup(const char *lines, size_t len, const char *host)
{
	struct str l = STR_INIT;
	int r;
	str_copyb(&l, lines, len);
	r = tlspolicy_lookup(&p, &l, host, strlen(host));
	str_free(&l);
	return r;
}
#define LOOKUP(lines, host) lookup(lines, sizeof lines - 1, host)

START_TEST(levels)
{
	ck_assert_int_eq(parse("may"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_MAY);
	ck_assert_int_eq(tlspolicy_required(&p), 0);
	ck_assert_int_eq(parse("OFF"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_OFF);
	ck_assert_int_eq(tlspolicy_required(&p), 0);
	ck_assert_int_eq(parse("encrypt"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_ENCRYPT);
	ck_assert_int_eq(tlspolicy_required(&p), 1);
	ck_assert_int_eq(parse("none"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_ENCRYPT);
	ck_assert_int_eq(parse("ca"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_CA);
	ck_assert_uint_eq(p.cafile.len, 0);
	ck_assert_int_eq(parse("ca:/etc/x:y.pem"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_CA);
	ck_assert_str_eq(str_cstr(&p.cafile), "/etc/x:y.pem");
}
END_TEST

START_TEST(malformed)
{
	ck_assert_int_eq(parse(""), -1);
	ck_assert_int_eq(parse("maybe"), -1);
	ck_assert_int_eq(parse("encrypt:x"), -1);
	ck_assert_int_eq(parse("ca:"), -1);
	ck_assert_int_eq(parse("pin"), -1);
	ck_assert_int_eq(parse("pin:"), -1);
	ck_assert_int_eq(parse("pin:abcd"), -1);
	/* 65 digits, a bad digit, a dangling colon, a trailing comma */
	ck_assert_int_eq(
	    parse("pin:00000000000000000000000000000000000000000000000000000000000000000"), -1);
	ck_assert_int_eq(
	    parse("pin:000000000000000000000000000000000000000000000000000000000000000g"), -1);
	ck_assert_int_eq(
	    parse("pin:0000000000000000000000000000000000000000000000000000000000000000:"), -1);
	ck_assert_int_eq(
	    parse("pin:0000000000000000000000000000000000000000000000000000000000000000,"), -1);
}
END_TEST

START_TEST(pins)
{
	ck_assert_int_eq(
	    parse("pin:AB:cd:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:"
	          "00:00:00:00:00:00:00:01, "
	          "0101010101010101010101010101010101010101010101010101010101010101"),
	    0);
	ck_assert_int_eq(p.level, TLSPOLICY_PIN);
	ck_assert_uint_eq(p.npins, 2);
	ck_assert_uint_eq(p.pins[0][0], 0xab);
	ck_assert_uint_eq(p.pins[0][1], 0xcd);
	ck_assert_uint_eq(p.pins[0][31], 0x01);
	ck_assert_uint_eq(p.pins[1][17], 0x01);
}
END_TEST

START_TEST(matching)
{
	static const char lines[] = "a.example:encrypt\0.example:ca\0[IPv6:::1]:off\0";
	static const char all[] = "x.test:off\0:encrypt\0";
	ck_assert_int_eq(LOOKUP(lines, "A.Example"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_ENCRYPT);
	ck_assert_int_eq(LOOKUP(lines, "b.a.example"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_CA);
	ck_assert_int_eq(LOOKUP(lines, "example"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_MAY);
	ck_assert_int_eq(LOOKUP(lines, "[IPv6:::1]"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_OFF);
	ck_assert_int_eq(LOOKUP(all, "x.test"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_OFF);
	ck_assert_int_eq(LOOKUP(all, "y.test"), 0);
	ck_assert_int_eq(p.level, TLSPOLICY_ENCRYPT);
	ck_assert_int_eq(LOOKUP("bad.test:pin:zz\0", "bad.test"), -2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tlspolicy");
	TCase *t = tcase_create("core");
	SRunner *r;
	int failed;
	tcase_add_test(t, levels);
	tcase_add_test(t, malformed);
	tcase_add_test(t, pins);
	tcase_add_test(t, matching);
	suite_add_tcase(s, t);
	r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
