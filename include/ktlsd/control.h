/* SPDX-License-Identifier: MIT */
/*
 * ktlsd/control.h - the control socket's wire protocol (docs/control-api.md).
 *
 * One JSON object per line each way. Shared by ktlsd, ktlsctl and anything else that
 * talks to the control socket.
 */
#ifndef KTLSD_CONTROL_H
#define KTLSD_CONTROL_H

#define KTLSD_CONTROL_VERSION	  1
#define KTLSD_CONTROL_SOCKET	  "/run/ktlsd/control.sock"
#define KTLSD_CONTROL_MAX_REQUEST 65536 /* bytes, newline included */
#define KTLSD_CONTROL_TIMEOUT_MS  10000 /* for a complete request */
#define KTLSD_CONTROL_MAX_CLIENTS 64

/* Error codes of a failed reply ("error": {"code": ..., "message": ...}). */
#define KTLSD_CTL_E_BAD_JSON	"bad_json"
#define KTLSD_CTL_E_BAD_REQUEST "bad_request"
#define KTLSD_CTL_E_TOO_LARGE	"too_large"
#define KTLSD_CTL_E_VERSION	"unsupported_version"
#define KTLSD_CTL_E_UNKNOWN	"unknown_command"
#define KTLSD_CTL_E_PERMISSION	"permission_denied"
#define KTLSD_CTL_E_NOT_FOUND	"not_found"
#define KTLSD_CTL_E_CONFLICT	"conflict"
#define KTLSD_CTL_E_FAILED	"failed"
#define KTLSD_CTL_E_TIMEOUT	"timeout"
#define KTLSD_CTL_E_BUSY	"busy"

#endif
