/* maildir: see maildir.h. */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "durable.h"

void maildir_unique_name(struct str *out)
{
	static unsigned long counter;
	struct timeval tv;
	char host[256];
	gettimeofday(&tv, 0);
	if (gethostname(host, sizeof host) == -1) host[0] = 0;
	host[sizeof host - 1] = 0;
	str_catulong(out, (unsigned long)tv.tv_sec);
	str_cats(out, ".M");
	str_catulong(out, (unsigned long)tv.tv_usec);
	str_catc(out, 'P');
	str_catulong(out, (unsigned long)getpid());
	str_catc(out, '_');
	str_catulong(out, counter++);
	str_catc(out, '.');
	for (const char *h = host; *h; ++h) {
		if (*h == '/') str_cats(out, "\\057");
		else if (*h == ':') str_cats(out, "\\072");
		else str_catc(out, *h);
	}
}


static int write_message(int fd, const char *head, size_t headlen, int msgfd)
{
	char inspace[65536], outspace[65536];
	struct buf in, out;
	int r;
	buf_init_read(&in, msgfd, inspace, sizeof inspace);
	buf_init_write(&out, fd, outspace, sizeof outspace);
	if (buf_put(&out, head, headlen) == -1) return -3;
	r = buf_copy(&out, &in);
	if (r) return r;
	if (buf_flush(&out) == -1) return -3;
	return 0;
}

int maildir_deliver(const char *dir, const char *head, size_t headlen, int msgfd,
                    struct str *why)
{
	struct str tmp = STR_INIT, fin = STR_INIT, name = STR_INIT;
	int fd, r;
	struct stat st;

	maildir_unique_name(&name);
	str_copys(&tmp, dir);
	str_cats(&tmp, "/tmp/");
	str_cat(&tmp, &name);
	str_copys(&fin, dir);
	str_cats(&fin, "/new/");
	str_cat(&fin, &name);
	str_free(&name);

	r = stat(dir, &st);
	if (r == 0 && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		r = -1;
	}
	if (r == -1) {
		r = str_reason_errno(why, "Unable to open maildir ", dir);
		goto done;
	}
	fd = open(str_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		r = str_reason_errno(why, "Unable to create a file in tmp/ of ", dir);
		goto done;
	}
	r = write_message(fd, head, headlen, msgfd);
	if (r == -2) {
		str_reason_errno(why, "Unable to read message for ", dir);
	} else if (r == -3 || durable_file(fd) == -1) {
		r = str_reason_errno(why, "Unable to write message into ", dir);
	}
	if (close(fd) == -1 && r == 0) r = str_reason_errno(why, "Unable to write message into ", dir);
	if (r == 0 && durable_publish(str_cstr(&tmp), str_cstr(&fin)) == -1)
		r = str_reason_errno(why, "Unable to link message into new/ of ", dir);
	if (r != 0) {
		int e = errno;
		unlink(str_cstr(&tmp));
		errno = e;
		r = -1;
	}
done:
	str_free(&tmp);
	str_free(&fin);
	return r;
}
