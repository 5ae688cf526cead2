/* Frame names come from binaries, perf maps and folded files, so they can
 * hold any byte. JSON (RFC 8259) and proto3 strings must be UTF-8: the
 * writers pass names through here, and every byte that does not start a
 * well-formed sequence becomes U+FFFD, the replacement character. Valid
 * text is left byte for byte as it was. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/vec.h"

/* Length of the well-formed UTF-8 sequence at s (1..4), 0 when s[0] does
 * not start one (overlong forms, surrogates and code points above
 * U+10FFFF are not well-formed). */
size_t utf8_sequence_length(const unsigned char *s, size_t avail);
bool utf8_is_valid(const char *s, size_t len);
/* Appends the sanitised form of s to buf, keeping it NUL terminated.
 * 0 or -ENOMEM (buf untouched). */
int utf8_append_sanitized(const char *s, size_t len, struct charvec *buf);
