// ROW-FS proxy memory housekeeping (addon "rowfsmemory"): glibc malloc settings a JS process cannot
// make itself. A proxy's native allocations (socket reads, Buffers, LMDB, V8's compiler and GC
// threads) come and go in bursts; glibc keeps freed memory in its heaps (and one heap per thread
// that contended for a lock), so the resident set stays at its high-water mark. Measured in
// docs/rowfs.md ("Peak RSS of the libnfs phases").
//   limitArenas(n)  mallopt(M_ARENA_MAX, n): at most n malloc heaps (threads share them).
//   fixThresholds(bytes)  mallopt(M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, bytes): allocations of
//                   that size or more get pages of their own, unmapped when freed, and a heap's
//                   free top past it goes back at once (glibc otherwise raises both thresholds
//                   after the first large block is freed, up to 32 MiB, and keeps what falls below).
//   trim()          malloc_trim(0): hands free pages of every heap back to the kernel; returns
//                   glibc's answer, which is 1 whenever a heap had free pages to advise away, even
//                   pages it gave back before (so not whether this call released anything).
// Errors: code "MEMORY_EINVAL" for bad arguments, "MEMORY_EIO" when mallopt refuses.
#define _GNU_SOURCE
#include <malloc.h>
#include "../../lib/native/napi-util.h"

/* A JS number that is a whole number from lo to hi (no truncation, no wrap past 2^32). */
static int whole_in(napi_env env, napi_value v, double lo, double hi, int *out) {
  double d;
  // NaN fails the range test; inside the range the cast to int is exact only for whole numbers.
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= lo && d <= hi) || (double)(int)d != d) return 0;
  *out = (int)d;
  return 1;
}

static napi_value js_limit_arenas(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int n = 0;
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !whole_in(env, argv[0], 1, 64, &n))
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "limitArenas(n): n from 1 to 64");
  if (mallopt(M_ARENA_MAX, n) != 1) return addon_throw(env, ADDON_ERROR, "EIO", "mallopt(M_ARENA_MAX) refused");
  napi_value undef;
  ADDON_CHECK(napi_get_undefined(env, &undef));
  return undef;
}

static napi_value js_fix_thresholds(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int bytes = 0;
  ADDON_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !whole_in(env, argv[0], 4096, 32.0 * 1024 * 1024, &bytes))
    return addon_throw(env, ADDON_TYPE_ERROR, "EINVAL", "fixThresholds(bytes): bytes from 4 KiB to 32 MiB");
  if (mallopt(M_MMAP_THRESHOLD, bytes) != 1 || mallopt(M_TRIM_THRESHOLD, bytes) != 1)
    return addon_throw(env, ADDON_ERROR, "EIO", "mallopt(M_MMAP_THRESHOLD/M_TRIM_THRESHOLD) refused");
  napi_value undef;
  ADDON_CHECK(napi_get_undefined(env, &undef));
  return undef;
}

static napi_value js_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  ADDON_CHECK(napi_create_uint32(env, (uint32_t)malloc_trim(0), &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"limitArenas", NULL, js_limit_arenas, NULL, NULL, NULL, napi_default, NULL},
      {"fixThresholds", NULL, js_fix_thresholds, NULL, NULL, NULL, napi_default, NULL},
      {"trim", NULL, js_trim, NULL, NULL, NULL, napi_default, NULL},
  };
  ADDON_CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
