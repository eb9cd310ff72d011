/* qmail-getpw: which passwd account handles a local address.
 *
 * qmail-getpw LOCAL prints user\0uid\0gid\0home\0dash\0ext\0 for the
 * account in charge of LOCAL, as qmail-getpw(8) defines it: the longest
 * prefix of LOCAL that ends at a '-' (or at the end) and names a user,
 * where a user is an account with a nonzero uid that owns its existing
 * home directory. The prefix is lowercased before the lookup, so account
 * names with uppercase letters never match, and is shorter than 32 bytes.
 * When no prefix is a user, the account "alias" handles LOCAL with dash
 * "-" and ext LOCAL.
 *
 * It prints nothing when it fails, and exits with qmail's codes, which
 * qmail-lspawn turns into delivery reports: 100 usage, 115 a home
 * directory could not be checked (NFS trouble), 116 no alias user,
 * 118 the passwd database could not be read, 111 output failed.
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "die.h"
#include "str.h"

#define EXIT_NFS     115
#define EXIT_NOALIAS 116
#define EXIT_SYS     118
#define USERNAME_MAX 32 /* qmail-getpw(8): names are shorter than this */
#define ALIAS_USER   "alias"

/* Errors that say "try again later" rather than "not there". */
static int error_is_temporary(int e)
{
	switch (e) {
	case EINTR:
	case ENOMEM:
	case EIO:
	case ETIMEDOUT:
	case EAGAIN:
	case ENFILE:
	case EMFILE:
	case ETXTBSY:
	case ESTALE:
	case EHOSTUNREACH:
	case ECONNREFUSED:
	case ENETUNREACH:
	case ENOLCK: return 1;
	default: return 0;
	}
}

/* The account named by the first n bytes of local, lowercased, if it is
 * a user by qmail-getpw(8)'s rules; NULL otherwise. */
static struct passwd *user_for_prefix(const char *local, size_t n)
{
	char name[USERNAME_MAX];
	struct passwd *pw;
	struct stat st;
	size_t i;

	for (i = 0; i < n; ++i) {
		char c = local[i];
		name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	name[n] = 0;
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		/* glibc leaves errno set by lookups that merely found nothing;
		 * only a database that could not be read is worth a retry. */
		if (errno == EIO || errno == ETXTBSY || errno == ENFILE || errno == EMFILE ||
		    errno == ENOMEM)
			_exit(EXIT_SYS);
		return 0;
	}
	if (pw->pw_uid == 0) return 0;
	if (stat(pw->pw_dir, &st) == -1) {
		if (error_is_temporary(errno)) _exit(EXIT_NFS);
		return 0;
	}
	return st.st_uid == pw->pw_uid ? pw : 0;
}

static void put_field(struct str *out, const char *s)
{
	str_cats(out, s);
	str_catc(out, 0);
}

int main(int argc, char **argv)
{
	const char *local;
	const char *dash = "-";
	const char *ext;
	struct passwd *pw = 0;
	struct str out = STR_INIT;
	size_t len, n, off = 0;

	die_init("qmail-getpw");
	if (argc < 2) _exit(100);
	local = argv[1];
	len = strlen(local);
	ext = local;

	/* Longest prefix first: "joe-list-x" tries joe-list-x, joe-list, joe. */
	for (n = len + 1; n-- > 0;) {
		if (n < len && local[n] != '-') continue;
		if (n >= USERNAME_MAX) continue;
		pw = user_for_prefix(local, n);
		if (!pw) continue;
		if (n < len)
			ext = local + n + 1;
		else {
			ext = "";
			dash = "";
		}
		break;
	}
	if (!pw) {
		pw = getpwnam(ALIAS_USER);
		if (!pw) _exit(EXIT_NOALIAS);
	}

	put_field(&out, pw->pw_name);
	str_catulong(&out, (unsigned long)pw->pw_uid);
	str_catc(&out, 0);
	str_catulong(&out, (unsigned long)pw->pw_gid);
	str_catc(&out, 0);
	put_field(&out, pw->pw_dir);
	put_field(&out, dash);
	put_field(&out, ext);
	while (off < out.len) {
		ssize_t w = write(1, out.s + off, out.len - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) _exit(111);
		off += (size_t)w;
	}
	str_free(&out);
	return 0;
}
