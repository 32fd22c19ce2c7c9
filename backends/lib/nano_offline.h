/*
 * What the offline providers share: the seed that makes them
 * deterministic (a hash of prompt, model and seed), a small PRNG on it,
 * and the painter of the pictures the offline image and video show
 * (gradients, soft shapes and an "OFFLINE" banner in a 5x7 bitmap font).
 * Pure and thread-safe: no globals.
 */

#ifndef NANO_OFFLINE_H
#define NANO_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#define NANO_OFFLINE_MAX_SIDE  4096

/* A 64-bit value derived from prompt, model (both may be NULL) and seed
 * (any value; < 0 means none): the same inputs always give the same. */
uint64_t nano_offline_seed(const char *prompt, const char *model,
    long long seed);

/* The same, with more bytes (an input image) mixed into h. */
uint64_t nano_offline_mix(uint64_t h, const void *p, size_t n);

/* splitmix64: the next value of the sequence in *state. */
uint64_t nano_offline_rand(uint64_t *state);

/* A uniform value in [0, n) (n > 0). */
uint32_t nano_offline_rand_below(uint64_t *state, uint32_t n);

/* A uniform double in [0, 1). */
double nano_offline_rand01(uint64_t *state);

/*
 * Paints the scene of seed into rgb (width*height*3 bytes, rows packed):
 * a two-colour gradient, soft discs and rings moving with t (seconds;
 * 0 for a still), and a banner band along the bottom with label (upper-
 * cased; letters, digits, space and - . : / only, others drawn as
 * spaces) in white.  width, height >= 16.
 */
void nano_offline_paint(unsigned char *rgb, int width, int height,
    uint64_t seed, double t, const char *label);

/*
 * Tints an existing picture (the edit case): mixes the scene's gradient
 * colours into rgb at 30 % and draws the banner, opaque: nothing of the
 * picture's own bottom (an offline label) shows through.  Same sizes as
 * above.
 */
void nano_offline_tint(unsigned char *rgb, int width, int height,
    uint64_t seed, const char *label);

/* Draws text with the 5x7 font at (x, y), each font pixel scale x scale
 * pixels, clipped to the picture.  Returns the width drawn. */
int nano_offline_draw_text(unsigned char *rgb, int width, int height, int x,
    int y, int scale, const char *text, const unsigned char color[3]);

/* The width text takes at scale. */
int nano_offline_text_width(const char *text, int scale);

#endif /* NANO_OFFLINE_H */
