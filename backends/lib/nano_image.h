/*
 * Uploaded images: what a file really is, judged by its bytes (never by
 * its name or declared type), and base64 images in JSON bodies.  PNG,
 * JPEG and WebP only.
 */

#ifndef NANO_IMAGE_H
#define NANO_IMAGE_H

#include <stddef.h>

#define NANO_IMAGE_B64_MAX  (4 * 1024 * 1024)    /* decoded bytes, JSON */
#define NANO_IMAGE_UPLOAD_MAX  (10 * 1024 * 1024) /* multipart */

typedef struct {
    const char  *mime;      /* "image/png", "image/jpeg", "image/webp" */
    const char  *ext;       /* "png", "jpg", "webp" */
    int          width;     /* 0 when the header does not say */
    int          height;
} nano_image_info_t;

/*
 * Sniffs the first len bytes of a file (at least 32 for the size; the
 * JPEG size may need more: give what you have, up to 64 KiB).  Returns
 * 0 with info filled, or -1 when it is none of PNG, JPEG, WebP.
 */
int nano_image_sniff(const unsigned char *p, size_t len,
    nano_image_info_t *info);

/*
 * 1 when the len bytes at p, sniffed as info says, reach their format's
 * end: a PNG's IEND chunk, a JPEG's EOI marker after its first scan
 * begins (more data may follow either), the whole length a WebP's RIFF
 * header gives; 0 for an image cut short.
 */
int nano_image_whole(const unsigned char *p, size_t len,
    const nano_image_info_t *info);

/* The same for a file on disk, a JPEG's markers walked through the
 * whole file for its size; -1 when unreadable or not an image. */
int nano_image_sniff_file(const char *path, nano_image_info_t *info);

/* nano_image_whole for a file on disk: 1 whole, 0 cut short, -1 when
 * it cannot be read. */
int nano_image_whole_file(const char *path, const nano_image_info_t *info);

/*
 * Decodes a base64 image (plain, or a "data:<type>;base64," URL, whose
 * declared type is ignored) of at most max decoded bytes into the file
 * path (created 0640) and sniffs it.  Returns 0; -1 when it is not
 * base64 or not an accepted image (the file is removed); -2 when larger
 * than max; -3 when the file cannot be written.
 */
int nano_image_from_base64(const char *text, size_t len, size_t max,
    const char *path, nano_image_info_t *info);

#endif /* NANO_IMAGE_H */
