/*
 * Images decoded, scaled and encoded in plain C: PNG (libpng), JPEG
 * (libjpeg-turbo) and WebP (libwebp) to 8-bit RGBA, a centre crop
 * scaled to a square or any box (area averaging down, bilinear up), and
 * PNG out.  Decompression bombs are refused from the header, before any
 * pixel is decoded.  The avatars of the platform's settings use it.
 */

#ifndef NANO_IMAGE_SCALE_H
#define NANO_IMAGE_SCALE_H

#include <stddef.h>

/* The most pixels an image may declare: 25 megapixels (100 MB of RGBA
 * while it is decoded). */
#define NANO_IMAGE_PIXELS_MAX  (25L * 1000 * 1000)
#define NANO_IMAGE_SIDE_MAX    16384    /* either side */

/* Decoded pixels: width * height * 4 bytes of RGBA, rows top down. */
typedef struct {
    unsigned char  *px;          /* owned */
    int             width;
    int             height;
} nano_pixels_t;

typedef enum {
    NANO_SCALE_OK = 0,
    NANO_SCALE_NOT_IMAGE,       /* none of PNG, JPEG, WebP by its bytes */
    NANO_SCALE_TOO_LARGE,       /* declares more pixels than allowed */
    NANO_SCALE_CORRUPT,         /* its decoder refused it */
    NANO_SCALE_NO_MEMORY
} nano_scale_status_t;

void nano_pixels_init(nano_pixels_t *p);

/* Frees the pixels; accepts NULL and may run twice. */
void nano_pixels_cleanup(nano_pixels_t *p);

/*
 * Decodes len bytes of a PNG, JPEG or WebP (judged by its bytes) into
 * out, refusing before decoding one that declares more than max_pixels
 * pixels or a side over NANO_IMAGE_SIDE_MAX.  A JPEG is turned upright
 * by its EXIF orientation, and is decoded at 1/2, 1/4 or 1/8 of its size
 * (libjpeg's DCT scaling) while both sides stay at least 2 * at_least
 * (0: full size).  A JPEG cut short or with corrupt data is refused, as
 * is an animated WebP.  why receives the reason of a refusal (at most
 * whylen bytes, never the image's bytes).
 */
nano_scale_status_t nano_image_decode(const unsigned char *data, size_t len,
    long max_pixels, int at_least, nano_pixels_t *out, char *why,
    size_t whylen);

/*
 * Scales the centre of in that has the aspect ratio of width x height
 * to exactly that size into out: area averaging where it shrinks,
 * bilinear where it grows, colours weighted by alpha (no dark fringes).
 * Returns 0, or -1 when out of memory or a size is not positive.
 */
int nano_pixels_cover(const nano_pixels_t *in, int width, int height,
    nano_pixels_t *out);

/*
 * Encodes p as PNG (RGB when every pixel is opaque, else RGBA) into a
 * new buffer *png of *len bytes (caller frees).  Returns 0 or -1.
 */
int nano_pixels_png(const nano_pixels_t *p, unsigned char **png,
    size_t *len);

/*
 * The whole of an avatar or thumbnail: decode (as above), cover side x
 * side, encode as PNG into *png (caller frees).
 */
nano_scale_status_t nano_image_square_png(const unsigned char *data,
    size_t len, int side, long max_pixels, unsigned char **png,
    size_t *png_len, char *why, size_t whylen);

#endif /* NANO_IMAGE_SCALE_H */
