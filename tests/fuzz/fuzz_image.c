/*
 * libFuzzer harness for the base64 decoders and the image checks that
 * run on uploads and on provider answers before any decoder does:
 * nano_base64_decode, nano_image_from_base64, nano_image_whole and the
 * file versions of the sniff and the whole-file check.
 *
 * The first input byte picks a mode (low 2 bits), the rest is its data:
 *   0  nano_base64_decode (bits 2-3 pick the limit: none, 1, 3 or 100
 *      bytes): it decodes exactly what a plain reading of its rules
 *      decodes (whitespace skipped, padding optional but only at the
 *      end and only as much as the last quantum lacks, no lone trailing
 *      character), and a result over the limit is refused as too big;
 *      what it decodes, encoded again, decodes to the same bytes;
 *   1  nano_image_from_base64 (bits 2-3: a data: URL prefix, line
 *      breaks): the file holds exactly the decoded bytes when it is
 *      accepted, is an image by nano_image_sniff of those bytes, and
 *      does not exist after a refusal;
 *   2  the data as a file: nano_image_sniff_file and
 *      nano_image_whole_file agree with nano_image_sniff and
 *      nano_image_whole on the bytes; a whole image stays whole when
 *      more bytes follow;
 *   3  a JPEG whose frame header lies behind 1 to 4 large APP1 segments
 *      (bits 2-3), the data after them: nano_image_sniff_file, which
 *      reads such a file window by window, finds the size that
 *      nano_image_sniff finds in the whole of it (none when the whole
 *      is no JPEG).
 * Every input is copied to an allocation of its exact size, so that
 * AddressSanitizer sees any read past its end.
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nano_base64.h"
#include "nano_image.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char  fuzz_path[64];


static int
fuzz_b64_value(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (url && (c == '-' || c == '_')) {
        return c == '-' ? 62 : 63;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}


/*
 * The rules of nano_base64_decode read plainly: the digits, whitespace
 * dropped, then the padding.  Returns the decoded length into out (at
 * least len bytes), or -1.  url: base64url's digits too (the images'
 * decoder takes either alphabet).
 */
static long
fuzz_b64_reference(const char *s, size_t len, int url, unsigned char *out)
{
    size_t    i, nd = 0, pad = 0, o = 0;
    uint32_t  acc = 0;
    int       v;

    for (i = 0; i < len; i++) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
            continue;
        }
        if (s[i] == '=') {
            pad++;
            continue;
        }
        v = fuzz_b64_value((unsigned char) s[i], url);
        if (v < 0 || pad > 0) {
            return -1;
        }
        acc = acc << 6 | (uint32_t) v;
        if (++nd % 4 == 0) {
            out[o++] = (unsigned char) (acc >> 16);
            out[o++] = (unsigned char) (acc >> 8);
            out[o++] = (unsigned char) acc;
            acc = 0;
        }
    }
    switch (nd % 4) {
    case 0:
        return pad == 0 ? (long) o : -1;
    case 1:
        return -1;
    case 2:
        if (pad != 0 && pad != 2) {
            return -1;
        }
        out[o++] = (unsigned char) (acc >> 4);
        return (long) o;
    default:
        if (pad > 1) {
            return -1;
        }
        out[o++] = (unsigned char) (acc >> 10);
        out[o++] = (unsigned char) (acc >> 2);
        return (long) o;
    }
}


static void
fuzz_base64(const char *s, size_t len, unsigned bits)
{
    static const size_t   limits[4] = { 0, 1, 3, 100 };
    size_t                max = limits[bits & 3], n, n2;
    unsigned char        *out, *ref, *again;
    char                 *enc;
    long                  want;

    ref = malloc(len + 1);
    if (ref == NULL) {
        return;
    }
    want = fuzz_b64_reference(s, len, 0, ref);
    out = nano_base64_decode(s, len, max, &n);
    if (out == NULL) {
        /* refused: bad as the rules say, or over the limit */
        if (n > 1 || (n == 0 && want >= 0)
            || (n == 1 && want >= 0 && (max == 0 || (size_t) want <= max))
            || (n == 1 && want < 0 && max == 0))
        {
            fprintf(stderr, "refused (%zu), the rules give %ld\n", n, want);
            abort();
        }
        free(ref);
        return;
    }
    if (want < 0 || (size_t) want != n || memcmp(out, ref, n) != 0
        || (max > 0 && n > max))
    {
        fprintf(stderr, "decoded %zu bytes, the rules give %ld\n", n, want);
        abort();
    }
    enc = nano_base64_encode(out, n);
    if (enc == NULL) {
        abort();
    }
    again = nano_base64_decode(enc, strlen(enc), 0, &n2);
    if (again == NULL || n2 != n || memcmp(again, out, n) != 0) {
        abort();
    }
    free(again);
    free(enc);
    free(out);
    free(ref);
}


static void
fuzz_from_base64(const char *s, size_t len, unsigned bits)
{
    nano_image_info_t   info, want;
    struct stat         st;
    unsigned char      *ref, *file;
    char               *text;
    size_t              n = 0, i, k;
    long                dec;
    int                 rc, fd;
    const char         *prefix = (bits & 1) ? "data:image/png;base64," : "";

    /* the text: the prefix, then the data with a line break every 76
     * characters when bit 1 is set */
    text = malloc(strlen(prefix) + len + len / 76 * 2 + 1);
    ref = malloc(len + 1);
    if (text == NULL || ref == NULL) {
        free(text);
        free(ref);
        return;
    }
    memcpy(text, prefix, strlen(prefix));
    n = strlen(prefix);
    for (i = 0, k = 0; i < len; i++) {
        text[n++] = s[i];
        if ((bits & 2) && ++k == 76) {
            text[n++] = '\r';
            text[n++] = '\n';
            k = 0;
        }
    }

    unlink(fuzz_path);
    memset(&info, 0, sizeof(info));
    rc = nano_image_from_base64(text, n, 1 << 20, fuzz_path, &info);
    if (rc != 0) {
        if ((rc != -1 && rc != -2) || access(fuzz_path, F_OK) == 0) {
            abort();
        }
        goto out;
    }
    /* accepted: what it wrote is the data decoded, and an image */
    fd = open(fuzz_path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        abort();
    }
    file = malloc((size_t) st.st_size + 1);
    if (file == NULL
        || read(fd, file, (size_t) st.st_size) != (ssize_t) st.st_size)
    {
        abort();
    }
    close(fd);
    /* the digits: the data without blanks, after a data: URL's comma
     * when it holds one of its own */
    for (i = 0, k = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            text[k++] = s[i];
        }
    }
    n = 0;
    if (k >= 5 && strncasecmp(text, "data:", 5) == 0) {
        n = (size_t) ((char *) memchr(text, ',', k) - text) + 1;
    }
    dec = fuzz_b64_reference(text + n, k - n, 1, ref);
    if (dec != (long) st.st_size || memcmp(file, ref, (size_t) dec) != 0
        || nano_image_sniff(file, (size_t) dec, &want) != 0
        || strcmp(want.mime, info.mime) != 0
        || (want.width != 0 && (want.width != info.width
                                || want.height != info.height)))
    {
        abort();
    }
    free(file);
out:
    unlink(fuzz_path);
    free(text);
    free(ref);
}


static void
fuzz_write(const unsigned char *p, size_t len)
{
    FILE  *f;

    f = fopen(fuzz_path, "wb");
    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        abort();
    }
}


static void
fuzz_files(const unsigned char *p, size_t len)
{
    nano_image_info_t  mem, file;
    int                whole;

    if (nano_image_sniff(p, len, &mem) != 0) {
        return;
    }
    fuzz_write(p, len);
    if (nano_image_sniff_file(fuzz_path, &file) != 0
        || strcmp(file.mime, mem.mime) != 0 || strcmp(file.ext, mem.ext) != 0
        || (mem.width != 0 && (file.width != mem.width
                               || file.height != mem.height))
        || file.width < 0 || file.height < 0)
    {
        abort();
    }
    whole = nano_image_whole(p, len, &mem);
    if ((whole != 0 && whole != 1)
        || nano_image_whole_file(fuzz_path, &mem) != whole)
    {
        abort();
    }
    /* whole on its first half: whole as it stands */
    if (nano_image_whole(p, len / 2, &mem) == 1 && whole != 1) {
        abort();
    }
    unlink(fuzz_path);
}


static void
fuzz_jpeg_file(const unsigned char *p, size_t len, unsigned bits)
{
    nano_image_info_t  mem, file;
    unsigned char     *buf;
    size_t             segs = (bits & 3) + 1, n = 0, i;
    int                rc;

    buf = malloc(2 + segs * (65535 + 2) + len);
    if (buf == NULL) {
        return;
    }
    buf[n++] = 0xff;
    buf[n++] = 0xd8;
    for (i = 0; i < segs; i++) {
        buf[n++] = 0xff;
        buf[n++] = 0xe1;
        buf[n++] = 0xff;
        buf[n++] = 0xff;
        memset(buf + n, 'E', 65533);
        n += 65533;
    }
    memcpy(buf + n, p, len);
    n += len;

    rc = nano_image_sniff(buf, n, &mem);
    fuzz_write(buf, n);
    /* the file's first window decides that it is a JPEG; a size is
     * taken only from a frame header that the whole walk reaches */
    if (nano_image_sniff_file(fuzz_path, &file) != 0
        || strcmp(file.ext, "jpg") != 0)
    {
        abort();
    }
    if (rc != 0) {
        mem.width = mem.height = 0;
    }
    if (file.width != mem.width || file.height != mem.height) {
        fprintf(stderr, "in memory %dx%d, from the file %dx%d\n", mem.width,
                mem.height, file.width, file.height);
        abort();
    }
    unlink(fuzz_path);
    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char  *buf;

    if (size < 1) {
        return 0;
    }
    if (fuzz_path[0] == '\0') {
        snprintf(fuzz_path, sizeof(fuzz_path), "/tmp/fuzz_image.%ld",
                 (long) getpid());
    }
    buf = (unsigned char *) fuzz_rest(data, size);
    switch (data[0] & 3) {
    case 0:
        fuzz_base64((const char *) buf, size - 1, data[0] >> 2);
        break;
    case 1:
        fuzz_from_base64((const char *) buf, size - 1, data[0] >> 2);
        break;
    case 2:
        fuzz_files(buf, size - 1);
        break;
    default:
        fuzz_jpeg_file(buf, size - 1, data[0] >> 2);
        break;
    }
    free(buf);
    return 0;
}
