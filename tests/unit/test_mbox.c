/* Unit tests for lib/mbox: the ">From " quoting rule, the final newline
 * and separator, the "From " line, and appending with cut-back on failure. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "buf.h"
#include "mbox.h"
#include "str.h"

/* A file descriptor holding data, positioned at its start. */
static int fd_with(const char *data, size_t len)
{
	FILE *f = tmpfile();
	int fd;
	ck_assert_ptr_nonnull(f);
	fd = dup(fileno(f));
	fclose(f);
	ck_assert_int_eq((int)write(fd, data, len), (int)len);
	ck_assert_int_eq((int)lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void read_all(int fd, struct str *out)
{
	char space[4096];
	ssize_t r;
	out->len = 0;
	ck_assert_int_eq((int)lseek(fd, 0, SEEK_SET), 0);
	while ((r = read(fd, space, sizeof space)) > 0) str_catb(out, space, (size_t)r);
	ck_assert_int_eq((int)r, 0);
}

/* Runs mbox_copy_quoted over (in, len); the result goes into out. */
static int quote(const char *in, size_t len, struct str *out)
{
	char inspace[512], outspace[512]; /* small, so lines cross buffer ends */
	struct buf bin, bout;
	int fdin = fd_with(in, len), fdout = fd_with("", 0), r;
	buf_init_read(&bin, fdin, inspace, sizeof inspace);
	buf_init_write(&bout, fdout, outspace, sizeof outspace);
	r = mbox_copy_quoted(&bout, &bin);
	ck_assert_int_eq(buf_flush(&bout), 0);
	read_all(fdout, out);
	close(fdin);
	close(fdout);
	return r;
}

/* The quoted form of in is expect; frees all three. */
static void quote_gives(struct str *in, struct str *expect)
{
	struct str out = STR_INIT;
	ck_assert_int_eq(quote(in->s, in->len, &out), 0);
	ck_assert_uint_eq(out.len, expect->len);
	ck_assert(memcmp(out.s, expect->s, out.len) == 0);
	str_free(in);
	str_free(expect);
	str_free(&out);
}

static void quote_is(const char *in, const char *expect)
{
	struct str out = STR_INIT;
	ck_assert_int_eq(quote(in, strlen(in), &out), 0);
	ck_assert_str_eq(str_cstr(&out), expect);
	str_free(&out);
}

START_TEST(which_lines_need_a_quote)
{
	static const struct { const char *line; int quote; } t[] = {
		{"From alice Thu Nov 26 08:41:00 2026\n", 1},
		{"From \n", 1},
		{"From ", 1},
		{">From x\n", 1},
		{">>>From x\n", 1},
		{"From\n", 0},
		{"From", 0},
		{"Fromage\n", 0},
		{"from x\n", 0},
		{" From x\n", 0},
		{">From", 0},
		{">> From x\n", 0},
		{"", 0},
		{">>>", 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; ++i)
		ck_assert_msg(mbox_needs_quote(t[i].line, strlen(t[i].line)) == t[i].quote, "%s",
		              t[i].line);
	/* Only the given length counts, never a terminator. */
	ck_assert(!mbox_needs_quote("From x", 4));
	ck_assert(mbox_needs_quote("From x", 5));
}
END_TEST

START_TEST(quotes_from_lines_in_body)
{
	quote_is("Subject: x\n\nFrom here\n>From there\nFromage\n",
	         "Subject: x\n\n>From here\n>>From there\nFromage\n\n");
	quote_is("From first line\n", ">From first line\n\n");
	quote_is("a\r\nFrom b\r\n", "a\r\n>From b\r\n\n");
}
END_TEST

START_TEST(adds_final_newline_and_separator)
{
	quote_is("Subject: x\n\nlast", "Subject: x\n\nlast\n\n");
	quote_is("From last", ">From last\n\n");
	quote_is("x\n\n", "x\n\n\n");
	quote_is("\n", "\n\n");
	quote_is("", "\n");
}
END_TEST

START_TEST(keeps_nul_bytes_and_long_lines)
{
	struct str in = STR_INIT, expect = STR_INIT;
	str_catb(&in, "a\0b\n", 4);
	str_cats(&in, "From ");
	for (int i = 0; i < 100000; ++i) str_catc(&in, (char)('a' + i % 26));
	str_catc(&in, '\n');
	str_catb(&expect, "a\0b\n>", 5);
	str_catb(&expect, in.s + 4, in.len - 4);
	str_catc(&expect, '\n');
	quote_gives(&in, &expect);
}
END_TEST

START_TEST(quote_crossing_buffer_end)
{
	/* "From " lines that start exactly where the 512-byte buffer ends. */
	struct str in = STR_INIT, expect = STR_INIT;
	for (int i = 0; i < 511; ++i) str_catc(&in, 'x');
	str_cats(&in, "\nFrom y\n");
	str_copyb(&expect, in.s, 512);
	str_cats(&expect, ">From y\n\n");
	quote_gives(&in, &expect);
}
END_TEST

START_TEST(from_line)
{
	struct str s = STR_INIT;
	mbox_from_line(&s, "alice@example.org", 17, 0);
	ck_assert_str_eq(str_cstr(&s), "From alice@example.org Thu Jan 01 00:00:00 1970\n");
	s.len = 0;
	mbox_from_line(&s, "", 0, 86400L * 365);
	ck_assert_str_eq(str_cstr(&s), "From MAILER-DAEMON Fri Jan 01 00:00:00 1971\n");
	s.len = 0;
	/* White space would end the sender field early for a reader. */
	mbox_from_line(&s, "a b\tc\nd", 7, 1700000000L);
	ck_assert_str_eq(str_cstr(&s), "From a-b-c-d Tue Nov 14 22:13:20 2023\n");
	str_free(&s);
}
END_TEST

static char dir[sizeof "/tmp/test_mbox.XXXXXX"];

/* A fresh directory; fn gets the name of a mailbox in it, from the From
 * line the tests deliver with. */
static void make_dir(struct str *fn, struct str *from)
{
	memcpy(dir, "/tmp/test_mbox.XXXXXX", sizeof dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	str_copys(fn, dir);
	str_cats(fn, "/Mailbox");
	str_copys(from, "From a@b Thu Jan 01 00:00:00 1970\n");
}

static void file_is(struct str *fn, const char *expect)
{
	struct str got = STR_INIT;
	int fd = open(str_cstr(fn), O_RDONLY);
	ck_assert_int_ne(fd, -1);
	read_all(fd, &got);
	close(fd);
	ck_assert_str_eq(str_cstr(&got), expect);
	str_free(&got);
}
static void remove_dir(void)
{
	struct str cmd = STR_INIT;
	str_cats(&cmd, "rm -rf ");
	str_cats(&cmd, dir);
	ck_assert_int_eq(system(str_cstr(&cmd)), 0);
	str_free(&cmd);
}

START_TEST(deliver_appends)
{
	struct str fn = STR_INIT, from = STR_INIT, why = STR_INIT;
	const char *msg = "Subject: hi\n\nFrom me";
	int msgfd;
	make_dir(&fn, &from);
	for (int i = 0; i < 2; ++i) {
		msgfd = fd_with(msg, strlen(msg));
		ck_assert_int_eq(mbox_deliver(str_cstr(&fn), &from, "Delivered-To: x\n", 16, msgfd, 5,
		                              &why),
		                 0);
		close(msgfd);
	}
	file_is(&fn, "From a@b Thu Jan 01 00:00:00 1970\n"
	                                 "Delivered-To: x\nSubject: hi\n\n>From me\n\n"
	                                 "From a@b Thu Jan 01 00:00:00 1970\n"
	                                 "Delivered-To: x\nSubject: hi\n\n>From me\n\n");
	remove_dir();
	str_free(&fn);
	str_free(&from);
	str_free(&why);
}
END_TEST

START_TEST(deliver_failure_leaves_mbox_as_it_was)
{
	struct str fn = STR_INIT, from = STR_INIT, why = STR_INIT;
	const char *old = "From x Thu Jan 01 00:00:00 1970\nSubject: old\n\nold\n\n";
	int fd, badfd;
	make_dir(&fn, &from);
	fd = open(str_cstr(&fn), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq((int)write(fd, old, strlen(old)), (int)strlen(old));
	close(fd);
	/* A message that cannot be read (a directory) fails after the From
	 * line and the head were given: none of it may stay. */
	badfd = open(dir, O_RDONLY);
	ck_assert_int_eq(mbox_deliver(str_cstr(&fn), &from, "Delivered-To: x\n", 16, badfd, 5, &why), -1);
	close(badfd);
	ck_assert_msg(strstr(str_cstr(&why), str_cstr(&fn)) != 0, "%s", why.s);
	file_is(&fn, old);

	/* A write that fails halfway through a big message (the file size
	 * limit stands in for a full disk): the part written is cut off. */
	{
		struct rlimit was, lim;
		struct str big = STR_INIT;
		for (int i = 0; i < 4000; ++i) str_cats(&big, "From a line that needs quoting\n");
		badfd = fd_with(big.s, big.len);
		ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
		lim = was;
		lim.rlim_cur = strlen(old) + 70000; /* more than one buffer goes out */
		signal(SIGXFSZ, SIG_IGN);
		ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
		ck_assert_int_eq(mbox_deliver(str_cstr(&fn), &from, "", 0, badfd, 5, &why), -1);
		ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
		signal(SIGXFSZ, SIG_DFL);
		close(badfd);
		str_free(&big);
		ck_assert_msg(strstr(str_cstr(&why), "large") != 0, "%s", why.s);
		file_is(&fn, old);
	}
	/* A mailbox that cannot be opened is reported with its name, as -2. */
	str_cats(&fn, "/not-a-dir/x");
	badfd = fd_with("x\n", 2);
	ck_assert_int_eq(mbox_deliver(str_cstr(&fn), &from, "", 0, badfd, 5, &why), -2);
	close(badfd);
	ck_assert_msg(strstr(str_cstr(&why), "not-a-dir") != 0, "%s", why.s);
	remove_dir();
	str_free(&fn);
	str_free(&from);
	str_free(&why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, which_lines_need_a_quote);
	tcase_add_test(tc, quotes_from_lines_in_body);
	tcase_add_test(tc, adds_final_newline_and_separator);
	tcase_add_test(tc, keeps_nul_bytes_and_long_lines);
	tcase_add_test(tc, quote_crossing_buffer_end);
	tcase_add_test(tc, from_line);
	tcase_add_test(tc, deliver_appends);
	tcase_add_test(tc, deliver_failure_leaves_mbox_as_it_was);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
