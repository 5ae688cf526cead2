/* A tiny protocol buffers encoder, just what profile.proto needs: varint
 * and length-delimited fields, packed repeated varints and nested
 * messages. A message is built in a pb_buf; a nested message is built in
 * its own pb_buf and appended to its parent with pb_message(), which is
 * how the length prefix gets known without a second pass.
 *
 * Every function returns 0 or -ENOMEM; after a failure the buffer keeps
 * what it had, so callers can just stop and free it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/vec.h"

/* bytes.v[0..bytes.n) is the encoded message so far. */
struct pb_buf {
        VEC(uint8_t) bytes;
};

void pb_buf_release(struct pb_buf *b);
/* Empties the buffer but keeps its memory, for scratch buffers reused per item. */
static inline void pb_buf_clear(struct pb_buf *b) {
        b->bytes.n = 0;
}

int pb_varint(struct pb_buf *b, uint64_t v);
/* A varint field. proto3 leaves fields at their default (0) out. */
int pb_uint64(struct pb_buf *b, uint32_t field, uint64_t v);
/* int64 fields are varints of the two's complement value (10 bytes when negative). */
static inline int pb_int64(struct pb_buf *b, uint32_t field, int64_t v) {
        return pb_uint64(b, field, (uint64_t) v);
}
/* A length-delimited field: strings, bytes and nested messages. Written
 * even when empty (repeated strings need their empty entries). */
int pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len);
static inline int pb_message(struct pb_buf *b, uint32_t field, const struct pb_buf *msg) {
        return pb_bytes(b, field, msg->bytes.v, msg->bytes.n);
}
/* A packed repeated varint field (proto3's default encoding); nothing when n == 0. */
int pb_packed_uint64(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n);
