#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

size_t utf8_sequence_length(const unsigned char *s, size_t avail) {
        unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
        } else
                return 0;

        if (avail < n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

bool utf8_is_valid(const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *) s;
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence_length(u + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

int utf8_append_sanitized(const char *s, size_t len, struct charvec *buf) {
        const unsigned char *u = (const unsigned char *) s;

        /* worst case: every byte becomes the 3-byte replacement character */
        if (len > (SIZE_MAX - buf->n - 1) / 3)
                return -ENOMEM;
        int r = vec_reserve(buf, buf->n + 3 * len + 1);
        if (r < 0)
                return r;

        char *out = buf->v + buf->n;
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence_length(u + i, len - i);
                if (n == 0) {
                        memcpy(out, "\xef\xbf\xbd", 3);
                        out += 3;
                        i++;
                } else {
                        memcpy(out, s + i, n);
                        out += n;
                        i += n;
                }
        }
        *out = '\0';
        buf->n = (size_t) (out - buf->v);
        return 0;
}
