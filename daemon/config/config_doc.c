// SPDX-License-Identifier: MIT
/*
 * config_doc.c - the configuration reference, written from the schema tables: README's
 * settings tables (Markdown) and the settings of ktlsd.conf(5) (man). Every row's type and
 * default are derived from what the parser does with it, so the reference cannot drift
 * from the parser; scripts/config-docs.py splices the output into the two documents and
 * the test suite checks that they are current.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

/* One part of the reference: a heading (or none), prose around, and one schema. */
struct cfg_doc_section {
	const char *title;
	const char *intro;
	const struct cfg_table *table;
	const char *outro;
};

static const struct cfg_doc_section sections[] = {
	{ "Global settings", NULL, &config_root_table, NULL },
	{ NULL, "Each upstream group:", &config_upstream_table, NULL },
	{ "Profiles",
	  "A profile is a set of certificates plus TLS protocol settings. Listeners refer to "
	  "profiles by name and choose among them by the client's SNI.",
	  &config_profile_table,
	  "The default `ciphers` list is `" CFG_DEF_CIPHERS "`. Strings must not be empty." },
	{ NULL, "Each entry of `certificates`:", &config_cert_table,
	  "Both files must exist and be readable when the configuration loads. An ECDSA and an "
	  "RSA certificate can stand side by side in one profile." },
	{ "Listeners", NULL, &config_listener_table,
	  "Addresses: ports are numeric, 1..65535. An IPv6 address needs brackets "
	  "(`\"[::1]:8443\"`, `\"[::]:443\"`). A host name is resolved once, when the "
	  "configuration loads, and the first address it resolves to is used. A unix socket path "
	  "must be absolute and at most 107 bytes." },
};

/* How one format writes each piece. */
struct cfg_doc_writer {
	void (*heading)(FILE *f, const char *title);
	void (*para)(FILE *f, const char *md);
	void (*table_start)(FILE *f);
	void (*row)(FILE *f, const char *name, const char *type, const char *def, const char *doc);
};

/* ---- Markdown (README.md) ---- */

/* A table cell: Markdown as written, with '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void md_heading(FILE *f, const char *title)
{
	fprintf(f, "### %s\n\n", title);
}

static void md_para(FILE *f, const char *md)
{
	fprintf(f, "%s\n\n", md);
}

static void md_table_start(FILE *f)
{
	fputs("| Setting | Type | Default | Meaning |\n|---|---|---|---|\n", f);
}

static void md_row(FILE *f, const char *name, const char *type, const char *def, const char *doc)
{
	fprintf(f, "| `%s` | ", name);
	md_cell(f, type);
	fputs(" | ", f);
	md_cell(f, def);
	fputs(" | ", f);
	md_cell(f, doc);
	fputs(" |\n", f);
}

static const struct cfg_doc_writer md_writer = { md_heading, md_para, md_table_start, md_row };

/* ---- man (ktlsd.conf(5)) ---- */

/* A UTF-8 sequence at @s as a groff Unicode escape; returns its last byte. */
static const char *roff_utf8(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned int cp, n = u[0] >= 0xf0 ? 3 : u[0] >= 0xe0 ? 2 : 1;

	cp = u[0] & (0x3f >> n);
	for (unsigned int i = 1; i <= n; i++) {
		if ((u[i] & 0xc0) != 0x80) { /* not UTF-8: the byte as it is */
			fputc(*s, f);
			return s;
		}
		cp = cp << 6 | (u[i] & 0x3f);
	}
	fprintf(f, "\\[u%04X]", cp);
	return s + n;
}

/*
 * Inline Markdown into roff: `code` and **strong** in bold, [text](target) as its text,
 * non-ASCII characters as escapes, and a break allowed after each ':' of a long literal
 * (cipher lists).
 */
static void roff_text(FILE *f, const char *s)
{
	bool code = false, strong = false;

	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80) {
			s = roff_utf8(f, s);
		} else if (*s == ':' && code) {
			fputs(":\\:", f);
		} else if (*s == '`') {
			code = !code;
			fputs(code ? "\\fB" : "\\fR", f);
		} else if (!code && !strncmp(s, "**", 2)) {
			strong = !strong;
			fputs(strong ? "\\fB" : "\\fR", f);
			s++;
		} else if (!code && *s == '[' && strstr(s, "](")) {
			continue; /* the text follows; the target is dropped below */
		} else if (!code && *s == ']' && s[1] == '(' && strchr(s, ')')) {
			s = strchr(s, ')');
		} else if (*s == '\\') {
			fputs("\\e", f);
		} else if (*s == '-' && code) {
			fputs("\\-", f); /* a literal minus, as in options */
		} else {
			fputc(*s, f);
		}
	}
}

/* A text line that no '.' or '\'' at its start can turn into a request. */
static void roff_line(FILE *f, const char *md)
{
	fputs("\\&", f);
	roff_text(f, md);
	fputc('\n', f);
}

static void man_heading(FILE *f, const char *title)
{
	fprintf(f, ".SS %s\n", title);
}

static void man_para(FILE *f, const char *md)
{
	fputs(".PP\n", f);
	roff_line(f, md);
}

static void man_table_start(FILE *f)
{
	(void)f;
}

static void man_row(FILE *f, const char *name, const char *type, const char *def, const char *doc)
{
	fprintf(f, ".TP\n\\fB%s\\fR (", name);
	roff_text(f, type);
	fputs("; ", f);
	if (strcmp(def, "required") != 0)
		fputs("default: ", f);
	roff_text(f, def);
	fputs(")\n", f);
	roff_line(f, doc);
}

static const struct cfg_doc_writer man_writer = { man_heading, man_para, man_table_start, man_row };

/* ---- the rows ---- */

/* The documented type of @key into @buf. Return: false if a custom row does not say. */
static bool cfg_doc_type(const struct cfg_key *key, char *buf, size_t len)
{
	/* The types whose name says it all. */
	static const char *const plain[] = {
		[CFG_SECONDS] = "seconds",
		[CFG_BOOL] = "boolean",
		[CFG_STRING] = "string",
		[CFG_PATH] = "path",
	};
	size_t used = 0;

	if (key->type_doc)
		snprintf(buf, len, "%s", key->type_doc);
	else if (key->type == CFG_INT)
		snprintf(buf, len, "integer %lld..%lld", key->min, key->max);
	else if (key->type == CFG_ENUM)
		for (size_t i = 0; key->names[i] && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s`\"%s\"`",
						 !i		     ? ""
						 : key->names[i + 1] ? ", "
								     : " or ",
						 key->names[i]);
	else if (key->type != CFG_CUSTOM && plain[key->type])
		snprintf(buf, len, "%s", plain[key->type]);
	else
		return false; /* a custom row must say */
	return true;
}

/* The documented default of @key into @buf. Return: false if a custom row does not say. */
static bool cfg_doc_default(const struct cfg_key *key, char *buf, size_t len)
{
	if (key->required) {
		snprintf(buf, len, "required");
		return true;
	}
	if (key->def_doc) {
		snprintf(buf, len, "%s", key->def_doc);
		return true;
	}
	switch (key->type) {
	case CFG_INT:
		snprintf(buf, len, "`%lld`", key->dflt);
		return true;
	case CFG_ENUM:
		for (size_t i = 0; key->names[i]; i++)
			if ((key->values ? key->values[i] : (int)i) == key->dflt) {
				snprintf(buf, len, "`\"%s\"`", key->names[i]);
				return true;
			}
		return false;
	case CFG_SECONDS:
		snprintf(buf, len, "`%g`", (double)key->dflt / 1000);
		return true;
	case CFG_BOOL:
		snprintf(buf, len, "`%s`", key->dflt ? "true" : "false");
		return true;
	case CFG_STRING:
	case CFG_PATH:
		if (key->def)
			snprintf(buf, len, "`\"%s\"`", key->def);
		else
			snprintf(buf, len, "none");
		return true;
	case CFG_CUSTOM:
		break;
	}
	return false;
}

/**
 * config_doc_write() - write the settings reference from the schema tables.
 * @f:   where to
 * @fmt: CONFIG_DOC_MARKDOWN (README.md) or CONFIG_DOC_MAN (ktlsd.conf(5))
 *
 * Return: 0, or -EINVAL naming on stderr a row whose documentation is incomplete
 * (no meaning, or a custom type or default it does not spell out).
 */
int config_doc_write(FILE *f, enum config_doc_format fmt)
{
	const struct cfg_doc_writer *w = fmt == CONFIG_DOC_MAN ? &man_writer : &md_writer;
	char type[256], def[256];

	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		const struct cfg_doc_section *sec = &sections[s];

		if (sec->title)
			w->heading(f, sec->title);
		if (sec->intro)
			w->para(f, sec->intro);
		w->table_start(f);
		for (size_t k = 0; k < sec->table->n; k++) {
			const struct cfg_key *key = &sec->table->keys[k];

			if (!key->doc || !cfg_doc_type(key, type, sizeof(type)) ||
			    !cfg_doc_default(key, def, sizeof(def))) {
				fprintf(stderr, "config_doc: setting \"%s\" lacks its %s\n",
					key->name, !key->doc ? "doc" : "type_doc or def_doc");
				return -EINVAL;
			}
			w->row(f, key->name, type, def, key->doc);
		}
		if (fmt == CONFIG_DOC_MARKDOWN)
			fputc('\n', f);
		if (sec->outro)
			w->para(f, sec->outro);
	}
	return ferror(f) ? -EIO : 0;
}
