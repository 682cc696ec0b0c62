/* The checks of the C ABI's tests (C99): each failed check prints where and why
 * and counts in `failures`, which main turns into the exit status. */
#ifndef TAPEGRAD_TESTS_CAPI_EXPECT_H_
#define TAPEGRAD_TESTS_CAPI_EXPECT_H_

#include <stdio.h>
#include <string.h>

#include "capi/tapegrad.h"

static int failures = 0;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)
#define EXPECT_OK(call)                                                   \
  do {                                                                    \
    tg_status s_ = (call);                                                \
    if (s_ != TG_OK) {                                                    \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, \
              tg_status_name(s_), tg_last_error_message());               \
      ++failures;                                                         \
    }                                                                     \
  } while (0)
#define EXPECT_ERROR(call, code, text)                                               \
  do {                                                                               \
    tg_status s_ = (call);                                                           \
    if (s_ != (code) || strstr(tg_last_error_message(), (text)) == NULL) {           \
      fprintf(stderr, "%s:%d: %s -> %s \"%s\", expected %s with \"%s\"\n", __FILE__, \
              __LINE__, #call, tg_status_name(s_), tg_last_error_message(),          \
              tg_status_name(code), (text));                                         \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)

/* The exit status of a test program named `name`, after its checks. */
static int finish(const char* name) {
  if (failures != 0) {
    fprintf(stderr, "%s: %d failures\n", name, failures);
    return 1;
  }
  printf("%s: all passed\n", name);
  return 0;
}

#endif /* TAPEGRAD_TESTS_CAPI_EXPECT_H_ */
