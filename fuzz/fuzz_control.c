// SPDX-License-Identifier: MIT
/*
 * fuzz_control.c - libFuzzer target for the control protocol's request parser
 * (daemon/services/control_proto.c): any bytes as one request line, then the reply built from
 * what the parser returned, as the control thread would. `make fuzz` builds it with clang;
 * tests/integration/fuzz_control.sh runs it for a bounded time in `make check`.
 */
#include <stdint.h>
#include <stdlib.h>

#include "control_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	struct ctl_error err = { 0 };
	char *line;

	if (ctl_parse((const char *)data, size, &req, &err) == 0)
		line = ctl_reply_ok(req.id, json_object_get(req.args));
	else
		line = ctl_reply_error(req.id, err.code, err.msg);
	free(line);
	ctl_request_clear(&req);
	return 0;
}
