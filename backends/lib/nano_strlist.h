/*
 * NULL-ended lists of strings: the fixed vocabularies of the registry
 * (kinds, providers) and of generate's options (aspect ratios).
 */

#ifndef NANO_STRLIST_H
#define NANO_STRLIST_H

/* 1 when s is one of list's strings (exactly), else 0. */
int nano_strlist_has(const char *const *list, const char *s);

#endif /* NANO_STRLIST_H */
