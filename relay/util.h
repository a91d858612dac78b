/*
 * relay/util.h - small allocation and string helpers shared by every module.
 * The x* allocators call fatal() on failure: they are for small, bounded
 * allocations; buffers whose size a peer drives must check and fail softly.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_UTIL_H
#define RELAY_UTIL_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/* Copy with truncation, always NUL-terminated; returns strlen(src). */
size_t	 str_copy(char *dst, const char *src, size_t dstlen);

#endif
