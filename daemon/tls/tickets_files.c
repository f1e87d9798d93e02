// SPDX-License-Identifier: MIT
/*
 * tickets_files.c - ticket keys read from files (nginx's ssl_session_ticket_key format:
 * 80 bytes = name, HMAC-SHA256 key, AES-256 key; or 48 = name, AES-128 key, HMAC key), and
 * the check for a changed file. The caller holds the ring's lock; key bytes are wiped
 * wherever they are dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tls.h"
#include "tickets_ring.h"

static int tickets_stamp(const char *path, struct ticket_file_stamp *st)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -errno;
	*st = (struct ticket_file_stamp){
		.dev = sb.st_dev, .ino = sb.st_ino, .size = sb.st_size, .mtime = sb.st_mtim
	};
	return 0;
}

static bool tickets_stamp_equal(const struct ticket_file_stamp *a,
				const struct ticket_file_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* One key file: 80 bytes (name, HMAC, AES-256) or 48 (name, AES-128, HMAC), as nginx. */
static int tickets_read_file(const char *path, struct ticket_key *k, struct ticket_file_stamp *st,
			     char *err, size_t errlen)
{
	uint8_t raw[81];
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "ticket key file \"%s\": %s", path, strerror(errno));
		return ret;
	}
	n = read(fd, raw, sizeof(raw));
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "ticket key file \"%s\": %s", path, strerror(errno));
	} else if (n != 80 && n != 48) {
		ret = -EINVAL;
		snprintf(err, errlen, "ticket key file \"%s\": %zd bytes, expected 80 or 48", path,
			 n);
	} else {
		memcpy(k->name, raw, TICKET_NAME_LEN);
		k->aes_len = n == 80 ? 32 : 16;
		k->hmac_len = n == 80 ? 32 : 16;
		memcpy(k->hmac, raw + (n == 80 ? 16 : 32), k->hmac_len);
		memcpy(k->aes, raw + (n == 80 ? 48 : 16), k->aes_len);
		k->from_file = true;
		k->born_s = tickets_now_s();
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	if (!ret && tickets_stamp(path, st) < 0)
		memset(st, 0, sizeof(*st));
	close(fd);
	return ret;
}

/* Reads every file into a new master; on any failure the old keys stay. */
static int tickets_load_files(struct ticket_ring *r, char *err, size_t errlen)
{
	struct ticket_keyset *set = calloc(1, sizeof(*set));
	struct ticket_file_stamp stamps[CFG_MAX_TICKET_KEY_FILES] = { 0 };
	char id[9];
	int ret = 0;

	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_files && !ret; i++)
		ret = tickets_read_file(r->files[i], &set->keys[i], &stamps[i], err, errlen);
	if (!ret) {
		set->n = (unsigned)r->n_files;
		set->version = atomic_load(&r->version) + 1;
		OPENSSL_cleanse(&r->master, sizeof(r->master));
		r->master = *set;
		memcpy(r->stamp, stamps, r->n_files * sizeof(stamps[0]));
		atomic_store_explicit(&r->version, set->version, memory_order_release);
		tickets_key_id(&r->master.keys[0], id);
		log_info("profile \"%s\": ticket key %s (from %s) now encrypts, %u key(s) accepted",
			 r->profile, id, r->files[0], r->master.n);
	}
	OPENSSL_cleanse(set, sizeof(*set));
	free(set);
	return ret;
}

void tickets_free_files(struct ticket_ring *r)
{
	for (size_t i = 0; i < r->n_files; i++)
		free(r->files[i]);
	free(r->files);
	r->files = NULL;
	r->n_files = 0;
}

static bool tickets_same_files(const struct ticket_ring *r, const struct cfg_profile *p)
{
	if (r->n_files != p->n_ticket_key_files || !r->files)
		return false;
	for (size_t i = 0; i < r->n_files; i++)
		if (strcmp(r->files[i], p->ticket_key_files[i]) != 0)
			return false;
	return true;
}

/* Copies @p's file list into a new array; NULL on allocation failure. */
static char **tickets_dup_files(const struct cfg_profile *p)
{
	char **files = calloc(p->n_ticket_key_files, sizeof(*files));

	for (size_t i = 0; files && i < p->n_ticket_key_files; i++) {
		files[i] = strdup(p->ticket_key_files[i]);
		if (!files[i]) {
			while (i--)
				free(files[i]);
			free(files);
			return NULL;
		}
	}
	return files;
}

/* Switches @r to the key files of @p; on failure @r keeps its files and keys. */
int tickets_use_files(struct ticket_ring *r, const struct cfg_profile *p, char *err, size_t errlen)
{
	struct ticket_ring old = { .files = r->files, .n_files = r->n_files };
	int ret;

	if (tickets_same_files(r, p))
		return tickets_load_files(r, err, errlen); /* a reload reads them again */
	r->files = tickets_dup_files(p);
	if (!r->files) {
		r->files = old.files;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->n_files = p->n_ticket_key_files;
	ret = tickets_load_files(r, err, errlen);
	if (ret < 0) {
		tickets_free_files(r);
		r->files = old.files;
		r->n_files = old.n_files;
		return ret;
	}
	tickets_free_files(&old);
	return 0;
}

/* Re-reads the ring's key files when one changed; on failure the old keys stay. */
void tickets_check_files(struct ticket_ring *r)
{
	struct ticket_file_stamp st = { 0 };
	char why[512];

	for (size_t i = 0; i < r->n_files; i++) {
		if (tickets_stamp(r->files[i], &st) == 0 && tickets_stamp_equal(&st, &r->stamp[i]))
			continue;
		if (tickets_load_files(r, why, sizeof(why)) < 0) {
			log_err("profile \"%s\": %s; the previous ticket keys stay in use",
				r->profile, why);
			/* Do not retry in a loop: wait for the next change. */
			if (tickets_stamp(r->files[i], &st) == 0)
				r->stamp[i] = st;
		}
		return;
	}
}
