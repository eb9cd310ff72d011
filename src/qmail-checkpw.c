/* qmail-checkpw: a checkpassword program for qmail-smtpd's AUTH.
 *
 * Reads "user\0password\0timestamp\0" from fd 3 (the checkpassword
 * interface), looks the user up in control/smtppasswd (lines
 * "user:hash", the hash from crypt(3): yescrypt "$y$" or SHA-512 "$6$"),
 * and compares with crypt(3). On success it runs the program named by
 * its arguments (checkpassword's convention), or exits 0 when there is
 * none.
 *
 * Exit codes (checkpassword's): 0 accepted, 1 refused (unknown user,
 * wrong password, a hash of another kind), 2 misuse (no fd 3), 111 a
 * temporary failure (the file cannot be read, or anyone may read it).
 * Refusals name nothing on stderr: qmail-smtpd logs them. It never runs
 * a shell, needs no privilege and writes nothing.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "str.h"

#define PASSWD_FILE "control/smtppasswd"
#define INPUT_MAX 1024

/* A yescrypt hash (of random bytes) that crypt(3) computes for an
 * unknown user, so that a missing user costs about the time of a wrong
 * password. */
static const char dummy_hash[] =
	"$y$j9T$jpL3t/D6Dpzsn0smAguXY.$QtZRuE6bvACTLD.BU/T/xHO4SKKR0KM1pbJ5McVHQM4";

static struct crypt_data cd;

static int read_input(struct str *in)
{
	char buf[INPUT_MAX];
	for (;;) {
		ssize_t r = read(3, buf, sizeof buf);
		if (r == -1 && errno == EINTR) continue;
		if (r == -1) return -1;
		if (r == 0) return 0;
		if (in->len + (size_t)r > INPUT_MAX) return 1; /* too long: refused */
		str_catb(in, buf, (size_t)r);
	}
}

/* Constant time for equal lengths: the hashes are as long as each other
 * when the password is right. */
static int same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; ++i) d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int supported(const char *hash)
{
	return strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$6$", 3) == 0;
}

/* The hash for user in the file's lines, or 0. */
static const char *find_user(struct str *file, const char *user, size_t ulen)
{
	size_t pos = 0;
	while (pos < file->len) {
		size_t n = mem_chr(file->s + pos, file->len - pos, '\n');
		char *line = file->s + pos;
		pos += n + 1;
		if (n && line[n - 1] == '\r') --n;
		if (!n || line[0] == '#') continue;
		if (n > ulen && line[ulen] == ':' && memcmp(line, user, ulen) == 0) {
			line[n] = 0; /* the '\n' (or the file's extra terminator) */
			return line + ulen + 1;
		}
	}
	return 0;
}

static void read_file(struct str *file)
{
	struct stat st;
	int fd = open(PASSWD_FILE, O_RDONLY | O_CLOEXEC);
	if (fd == -1) die_temp_sys("unable to open " PASSWD_FILE);
	if (fstat(fd, &st) == -1) die_temp_sys("unable to stat " PASSWD_FILE);
	/* Hashes can be cracked offline: a file anyone may read (or write)
	 * is a configuration mistake to be fixed, not used. */
	if (st.st_mode & 007) die_temp("refusing " PASSWD_FILE ": other users may read or write it (chmod 600)");
	for (;;) {
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r == -1 && errno == EINTR) continue;
		if (r == -1) die_temp_sys("unable to read " PASSWD_FILE);
		if (r == 0) break;
		str_catb(file, buf, (size_t)r);
	}
	close(fd);
	str_catc(file, '\n');
}

int main(int argc, char **argv)
{
	struct str in = STR_INIT;
	struct str file = STR_INIT;
	const char *user, *pass, *hash, *got;
	size_t ulen, plen;
	int r, ok;
	die_init("qmail-checkpw");
	r = read_input(&in);
	if (r == -1) die_code(2, 1, "unable to read fd 3", (const char *)0);
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to " AUTO_PREFIX);
	read_file(&file);
	if (r == 1) _exit(1);
	ulen = mem_chr(in.s, in.len, 0);
	if (ulen >= in.len || !ulen) _exit(1);
	user = in.s;
	pass = in.s + ulen + 1;
	plen = mem_chr(pass, in.len - ulen - 1, 0);
	if (plen == in.len - ulen - 1) _exit(1);
	/* A ':' or line end in the name could match a line it does not own. */
	if (mem_chr(user, ulen, ':') < ulen || mem_chr(user, ulen, '\n') < ulen) _exit(1);
	hash = find_user(&file, user, ulen);
	ok = hash && supported(hash);
	got = crypt_r(pass, ok ? hash : dummy_hash, &cd);
	ok = ok && got && got[0] != '*' && same(got, hash);
	explicit_bzero(in.s, in.cap);
	explicit_bzero(&cd, sizeof cd);
	if (!ok) _exit(1);
	if (argc < 2) _exit(0);
	execvp(argv[1], argv + 1);
	die_temp_sys("unable to run ", argv[1]);
}
