/* Unit tests for lib/base64: RFC 4648's test vectors and the strings
 * that must be refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static int decodes_to(const char *in, const char *want, size_t wantlen)
{
	struct str out = STR_INIT;
	int ok = base64_decode(&out, in, strlen(in)) == 0 && out.len == wantlen &&
	         (!wantlen || memcmp(out.s, want, wantlen) == 0);
	str_free(&out);
	return ok;
}

static int refused(const char *in)
{
	struct str out = STR_INIT;
	int r = base64_decode(&out, in, strlen(in));
	str_free(&out);
	return r == -1;
}

START_TEST(rfc4648_vectors)
{
	ck_assert(decodes_to("", "", 0));
	ck_assert(decodes_to("Zg==", "f", 1));
	ck_assert(decodes_to("Zm8=", "fo", 2));
	ck_assert(decodes_to("Zm9v", "foo", 3));
	ck_assert(decodes_to("Zm9vYg==", "foob", 4));
	ck_assert(decodes_to("Zm9vYmE=", "fooba", 5));
	ck_assert(decodes_to("Zm9vYmFy", "foobar", 6));
}
END_TEST

START_TEST(sasl_plain_with_nuls)
{
	ck_assert(decodes_to("AGFsaWNlAHNlY3JldA==", "\0alice\0secret", 13));
	ck_assert(decodes_to("+/+/", "\xfb\xff\xbf", 3));
}
END_TEST

START_TEST(malformed_refused)
{
	ck_assert(refused("Zg="));
	ck_assert(refused("Zg"));
	ck_assert(refused("Z==="));
	ck_assert(refused("=Zg="));
	ck_assert(refused("Zg==Zm9v"));
	ck_assert(refused("Zm 9v"));
	ck_assert(refused("Zm9v\r\n"));
	ck_assert(refused("Zm-_"));
	ck_assert(refused("Z=g="));
	ck_assert(refused("Zh=="));
	ck_assert(refused("Zm9="));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("base64");
	int failed;
	tcase_add_test(tc, rfc4648_vectors);
	tcase_add_test(tc, sasl_plain_with_nuls);
	tcase_add_test(tc, malformed_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
