/* SPDX-License-Identifier: MIT */
/*
 * clock.h - monotonic time for deadlines and latency histograms (any thread, any layer).
 */
#ifndef KTLSD_CLOCK_H
#define KTLSD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC_COARSE in milliseconds (a few ms resolution, no system call). */
static inline uint64_t now_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* CLOCK_MONOTONIC in nanoseconds (vDSO, no system call), for latency histograms. */
static inline uint64_t now_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
