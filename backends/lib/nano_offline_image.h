/*
 * The offline image provider: a real PNG (libpng) of the requested size,
 * a picture derived from a hash of prompt, model and seed (the same
 * inputs always give the same bytes) with an "OFFLINE" banner.  The edit
 * case takes an input image: a PNG is scaled to the size and tinted; any
 * other input only feeds the hash.
 */

#ifndef NANO_OFFLINE_IMAGE_H
#define NANO_OFFLINE_IMAGE_H

#include <stddef.h>

typedef struct {
    const char  *prompt;       /* may be NULL */
    const char  *model;        /* may be NULL */
    long long    seed;         /* < 0: none */
    int          width;        /* 16 … NANO_OFFLINE_MAX_SIDE */
    int          height;
    const char  *input_path;   /* optional: the image to edit */
} nano_offline_image_request_t;

typedef struct {
    int     width;
    int     height;
    size_t  bytes;             /* the file's size */
    int     edited;            /* an input PNG was drawn on */
} nano_offline_image_info_t;

/*
 * Writes the PNG to path (created or truncated, 0640; on failure removed).
 * Returns 0 with info (may be NULL) filled; -1 for sizes out of range,
 * an input that cannot be read, or a write that failed (errno kept where
 * the system set it).
 */
int nano_offline_image_png(const nano_offline_image_request_t *r,
    const char *path, nano_offline_image_info_t *info);

/* Parses "<w>x<h>" or "<w>*<h>" into *w, *h within 16 … max side;
 * 0 or -1. */
int nano_offline_image_size(const char *size, int *w, int *h);

/* The size (width, height) for an aspect ratio "a:b" whose longer side
 * is side pixels (rounded to even); 0, or -1 for a bad ratio. */
int nano_offline_image_aspect(const char *ratio, int side, int *w, int *h);

#endif /* NANO_OFFLINE_IMAGE_H */
