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
#include <stdint.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/* Copy with truncation, always NUL-terminated; returns strlen(src). */
size_t	 str_copy(char *dst, const char *src, size_t dstlen);

/*
 * Length (2..4) of the well-formed UTF-8 sequence at s[0..n) and its code
 * point in *cp (may be NULL), or 0 when s does not start one: ASCII, a
 * stray or truncated sequence, an overlong form, a surrogate, or a value
 * above U+10FFFF (RFC 3629 section 4).
 */
size_t	 utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode) for a log or
 * accounting file. As root (before the privilege drop, relay/privsep.h)
 * the file may belong to the unprivileged user, in a directory of that
 * user: then no link is followed to a file of root's: -1 + ELOOP for a
 * symbolic link, -1 + EMLINK for a regular file with more than one link.
 */
int	 open_append(const char *path, unsigned mode);

#endif
