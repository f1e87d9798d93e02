/* SPDX-License-Identifier: MIT */
/*
 * metrics_text.h - writing Prometheus text exposition format 0.0.4, for metrics.c (which
 * knows the stats object; this part knows the format). Internal to the metrics module.
 */
#ifndef KTLSD_METRICS_TEXT_H
#define KTLSD_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define METRICS_NAME_MAX 200 /* longer names (from keys) are skipped, not truncated */

/* A growing NUL-terminated string; after an allocation failure every append is a no-op. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* The text being written: families are begun, given samples and ended one at a time. */
struct metrics_text {
	struct metrics_buf out;
	struct metrics_buf seen; /* "\nNAME\nNAME\n": names the families written so far use */
	size_t mark;		 /* where the current family began in out */
	char name[METRICS_NAME_MAX];
	const char *type;
};

void metrics_start(struct metrics_text *c);
int metrics_finish(struct metrics_text *c, char **out, size_t *out_len);
bool metrics_begin(struct metrics_text *c, const char *name, const char *type, const char *help);
int metrics_sample(struct metrics_text *c, const char *name, const char *suffix,
		   const char *const *labels, struct json_object *v);
void metrics_end(struct metrics_text *c, int n_samples);
bool metrics_is_number(struct json_object *v);
bool metrics_format_bound(struct json_object *v, char *s, size_t size);
bool metrics_make_name(char *name, size_t size, const char *key, const char *suffix);

#endif
