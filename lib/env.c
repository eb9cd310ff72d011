/* env: see env.h. */
#include "env.h"

#include <errno.h>
#include <stdlib.h>

#include "die.h"
#include "str.h"

const char *env_get(const char *name) { return getenv(name); }

void env_put(const char *name, const char *value)
{
	if (setenv(name, value, 1) == -1) die_nomem();
}

void env_putb(const char *name, const char *value, unsigned long len)
{
	struct str v = STR_INIT;
	str_copyb(&v, value, len);
	env_put(name, str_cstr(&v));
	str_free(&v);
}

void env_unset(const char *name) { unsetenv(name); }
