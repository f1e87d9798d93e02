// SPDX-License-Identifier: MIT
/*
 * ktlsd-confdoc - prints the configuration reference from ktlsd's settings schema, as
 * Markdown (README.md's tables) or man (ktlsd.conf(5)'s settings). scripts/config-docs.py
 * splices it into those documents; the test suite checks they are current.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

int main(int argc, char **argv)
{
	enum config_doc_format fmt;

	if (argc != 2 || (strcmp(argv[1], "markdown") != 0 && strcmp(argv[1], "man") != 0)) {
		fprintf(stderr, "usage: %s markdown|man\n", argv[0]);
		return 2;
	}
	fmt = !strcmp(argv[1], "man") ? CONFIG_DOC_MAN : CONFIG_DOC_MARKDOWN;
	if (config_doc_write(stdout, fmt) || fflush(stdout)) {
		fprintf(stderr, "%s: could not write the reference\n", argv[0]);
		return 1;
	}
	return 0;
}
