// SPDX-License-Identifier: MIT
/*
 * demo: the bundled example (`make demo`).  A little image cache: three
 * decoder threads "decode" 24 images into malloc'd pixel buffers (with
 * scratch memory they free again), the cache's table grows with realloc,
 * a 16 MiB texture atlas is mmapped and half of it filled, and
 * parse_metadata() forgets three 256-byte strings.  After loading it calls
 * vmspy_snapshot("loaded"), evicts every other image and exits.
 *
 * Deterministic; what a recording of it must show:
 *   pthread_create 3; 24 pixel buffers of (64 + 8 i) x (48 + 4 i) x 4 bytes
 *   (i = 0..23) malloc'd in decode_image, 12 of them freed by evict_half;
 *   one 16 MiB mmap from create_atlas (never unmapped: a mapping, not a
 *   leak); definitely lost: 768 bytes in 3 blocks from parse_metadata;
 *   still reachable at exit: the 12 cached images, their names and the
 *   cache table.
 * Prints three lines of progress (stdio is fine here: it is a demo).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vmspy/vmspy.h>

#define NOINLINE __attribute__((noinline))
#define IMAGES 24
#define DECODERS 3
#define ATLAS_SIZE (16u << 20)

struct image {
	char *name;
	unsigned w, h;
	uint8_t *pixels;
};

struct cache {
	struct image **slots;
	size_t count, cap;
	pthread_mutex_t lock;
};

static struct cache cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void die(const char *what)
{
	fprintf(stderr, "demo: %s\n", what);
	exit(1);
}

NOINLINE static void cache_insert(struct image *img)
{
	pthread_mutex_lock(&cache.lock);
	if (cache.count == cache.cap) {
		size_t cap = cache.cap ? cache.cap * 2 : 4;
		struct image **s = realloc(cache.slots, cap * sizeof(*s));
		if (!s)
			die("out of memory growing the cache");
		cache.slots = s;
		cache.cap = cap;
	}
	cache.slots[cache.count++] = img;
	pthread_mutex_unlock(&cache.lock);
}

/* Reads the image's "metadata" and forgets to free its scratch copy on the
 * path taken by every eighth image: the demo's leak (3 x 256 bytes). */
NOINLINE static void parse_metadata(struct image *img, unsigned i)
{
	char *text = malloc(256);
	if (!text)
		die("out of memory");
	snprintf(text, 256, "%s: %ux%u rgba", img->name, img->w, img->h);
	if (i % 8 == 7)
		return; /* oops */
	free(text);
}

NOINLINE static struct image *decode_image(unsigned i)
{
	struct image *img = calloc(1, sizeof(*img));
	char name[32];
	if (!img)
		die("out of memory");
	snprintf(name, sizeof(name), "img%02u.png", i);
	img->name = strdup(name);
	img->w = 64 + 8 * i;
	img->h = 48 + 4 * i;
	size_t bytes = (size_t)img->w * img->h * 4;
	uint8_t *scratch = malloc(bytes / 2); /* "compressed input" */
	img->pixels = malloc(bytes);
	if (!img->name || !scratch || !img->pixels)
		die("out of memory");
	memset(scratch, (int)i, bytes / 2);
	for (size_t k = 0; k < bytes; k++)
		img->pixels[k] = scratch[k / 2] ^ (uint8_t)k;
	free(scratch);
	parse_metadata(img, i);
	return img;
}

static void *decoder(void *arg)
{
	unsigned first = (unsigned)(uintptr_t)arg;
	for (unsigned i = first; i < IMAGES; i += DECODERS)
		cache_insert(decode_image(i));
	return NULL;
}

NOINLINE static uint8_t *create_atlas(void)
{
	uint8_t *atlas = mmap(NULL, ATLAS_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (atlas == MAP_FAILED)
		die("cannot map the texture atlas");
	memset(atlas, 0x55, ATLAS_SIZE / 2); /* only half is resident */
	return atlas;
}

NOINLINE static size_t evict_half(void)
{
	size_t kept = 0, bytes = 0;
	for (size_t i = 0; i < cache.count; i++) {
		struct image *img = cache.slots[i];
		if (atoi(img->name + 3) % 2 == 0) {
			free(img->pixels);
			free(img->name);
			free(img);
			continue;
		}
		cache.slots[kept++] = img;
		bytes += (size_t)img->w * img->h * 4;
	}
	cache.count = kept;
	return bytes;
}

int main(void)
{
	pthread_t t[DECODERS];
	for (uintptr_t i = 0; i < DECODERS; i++)
		if (pthread_create(&t[i], NULL, decoder, (void *)i))
			die("cannot start a decoder thread");
	for (int i = 0; i < DECODERS; i++)
		pthread_join(t[i], NULL);
	uint8_t *atlas = create_atlas();
	printf("demo: decoded %zu images, texture atlas: %u MiB, %u MiB used\n",
	       cache.count, ATLAS_SIZE >> 20, ATLAS_SIZE >> 21);
	atlas[0] = 1;
	vmspy_snapshot("loaded");
	size_t bytes = evict_half();
	printf("demo: evicted half, %zu images (%zu KiB of pixels) stay\n",
	       cache.count, bytes / 1024);
	printf("demo: done\n");
	return 0;
}
