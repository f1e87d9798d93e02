// SPDX-License-Identifier: MIT
/*
 * sdnotify.c - ktlsd's state for the service manager: systemd's Type=notify protocol
 * (sd_notify(3): READY=1, RELOADING=1, STOPPING=1, STATUS=...) over $NOTIFY_SOCKET,
 * through libsystemd. Without $NOTIFY_SOCKET (not started by systemd) nothing is sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "services.h"

/**
 * sdnotify() - send one notification: newline-separated "KEY=value" assignments.
 * MAINPID goes with each, so that a ktlsd that forked (no -f) is still the one systemd
 * watches. A failure is logged and changes nothing else.
 */
void sdnotify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, ret;

	n = snprintf(msg, sizeof(msg), "MAINPID=%ld\n", (long)getpid());
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	ret = sd_notify(0, msg);
	if (ret < 0)
		log_warn("sd_notify: %s", strerror(-ret));
}
