#include "protobuf.h"

#include <errno.h>

enum {
        WIRE_VARINT = 0,
        WIRE_LEN = 2,
};

void pb_buf_release(struct pb_buf *b) {
        vec_free(&b->bytes);
}

/* Room for extra more bytes, so that the writes after it cannot fail. */
static int pb_reserve(struct pb_buf *b, size_t extra) {
        if (extra > SIZE_MAX - b->bytes.n)
                return -ENOMEM;
        return vec_reserve(&b->bytes, b->bytes.n + extra);
}

int pb_varint(struct pb_buf *b, uint64_t v) {
        int r = pb_reserve(b, 10);
        if (r < 0)
                return r;
        do {
                uint8_t byte = v & 0x7f;
                v >>= 7;
                b->bytes.v[b->bytes.n++] = byte | (v ? 0x80 : 0);
        } while (v);
        return 0;
}

static size_t varint_size(uint64_t v) {
        size_t n = 1;
        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

static int pb_key(struct pb_buf *b, uint32_t field, unsigned wire) {
        return pb_varint(b, ((uint64_t) field << 3) | wire);
}

int pb_uint64(struct pb_buf *b, uint32_t field, uint64_t v) {
        if (v == 0)
                return 0;
        /* reserve both parts first, so a failure leaves no dangling key */
        int r = pb_reserve(b, 20);
        if (r < 0)
                return r;
        (void) pb_key(b, field, WIRE_VARINT);
        return pb_varint(b, v);
}

int pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len) {
        if (len > SIZE_MAX - 20)
                return -ENOMEM;
        int r = pb_reserve(b, 20 + len);
        if (r < 0)
                return r;
        (void) pb_key(b, field, WIRE_LEN);
        (void) pb_varint(b, len);
        return vec_append(&b->bytes, (const uint8_t *) data, len); /* room reserved: cannot fail */
}

int pb_packed_uint64(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n) {
        size_t payload = 0;
        int r;

        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                payload += varint_size(v[i]);
        r = pb_reserve(b, 20 + payload);
        if (r < 0)
                return r;
        (void) pb_key(b, field, WIRE_LEN);
        (void) pb_varint(b, payload);
        for (size_t i = 0; i < n; i++)
                (void) pb_varint(b, v[i]);
        return 0;
}
