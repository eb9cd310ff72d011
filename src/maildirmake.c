/* maildirmake: creates a new, empty maildir: DIR with tmp/, new/ and cur/,
 * each readable by the owner only.
 *
 * DIR must not exist yet: an existing directory is an error (exit 111),
 * so that nobody's mail is mixed into a directory made for something
 * else. Exit 100 for a usage error.
 */
#include <sys/stat.h>

#include "die.h"
#include "str.h"

static void make(const char *dir, const char *sub)
{
	struct str path = STR_INIT;
	str_copys(&path, dir);
	if (sub) {
		str_catc(&path, '/');
		str_cats(&path, sub);
	}
	if (mkdir(str_cstr(&path), 0700) == -1) die_temp_sys("unable to mkdir ", path.s);
	str_free(&path);
}

int main(int argc, char *argv[])
{
	die_init("maildirmake");
	umask(077);
	if (argc < 2) die_usage("maildirmake name");
	make(argv[1], 0);
	make(argv[1], "tmp");
	make(argv[1], "new");
	make(argv[1], "cur");
	return 0;
}
