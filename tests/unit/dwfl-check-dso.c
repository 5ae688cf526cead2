/* A library test-dwfl-check dlopen()s after its first unwind, so that a
 * stack passes through a module the reference unwinder has not seen yet.
 * Built -O2 -fomit-frame-pointer: only its CFI gets past dso_call. */
__attribute__((noipa, visibility("default"))) int dso_call(int (*cb)(int), int x) {
        /* not a tail call: dso_call stays on the stack under cb */
        return cb(x) * 7 + 1;
}
