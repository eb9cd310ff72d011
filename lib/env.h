/* env: the process environment, with out-of-memory handled by die_nomem. */
#ifndef NQ_ENV_H
#define NQ_ENV_H

const char *env_get(const char *name);       /* NULL when unset */
void env_put(const char *name, const char *value);
void env_putb(const char *name, const char *value, unsigned long len);
void env_unset(const char *name);

#endif
