/* vnas_offload_c_test.c — the C ABI header compiles as C (C99) and the
 * library links into a C program: start a session, fail a primitive
 * cleanly, read the error text, end the session. */
#include <stdio.h>
#include <string.h>

#include "plugins/host/vnas_offload.h"

static int failures = 0;
#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                \
    }                                                            \
  } while (0)

int main(void) {
  vnas_session_params p;
  vnas_session* s = NULL;
  vnas_primitive_args a;
  vnas_primitive_result r;
  memset(&p, 0, sizeof(p));
  CHECK(vnas_session_start(&p, &s) == VNAS_ERR_INVALID_ARGUMENT);
  CHECK(strstr(vnas_last_error(NULL), "server") != NULL);
  p.api_version = VNAS_OFFLOAD_API_VERSION;
  p.server = "127.0.0.1";
  p.control_endpoint = "127.0.0.1:1";
  p.timeout_ms = 2000;
  CHECK(vnas_session_start(&p, &s) == VNAS_OK);
  memset(&a, 0, sizeof(a));
  a.primitive = VNAS_PRIM_EXTENDED_STATS;
  a.src_path = "vm1/vm1.vmdk";
  CHECK(vnas_execute_primitive(s, &a, &r) == VNAS_ERR_UNREACHABLE);
  CHECK(strstr(vnas_last_error(s), "is it running?") != NULL);
  CHECK(strcmp(vnas_status_name(VNAS_ERR_UNREACHABLE), "VNAS_ERR_UNREACHABLE") == 0);
  vnas_session_end(s);
  if (failures == 0) printf("ok\n");
  return failures == 0 ? 0 : 1;
}
