/*
 * The offline providers' seed, PRNG and painter.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nano_offline.h"

#define NANO_OFFLINE_DISCS  7
#define NANO_OFFLINE_RINGS  2
#define NANO_OFFLINE_LOOP   3.0     /* seconds: the animation's period */

/* 5x7 glyphs, one byte per row, bit 4 the leftmost column. */
typedef struct {
    char           c;
    unsigned char  rows[7];
} nano_offline_glyph_t;

static const nano_offline_glyph_t  nano_offline_font[] = {
    { 'A', { 0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11 } },
    { 'B', { 0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E } },
    { 'C', { 0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E } },
    { 'D', { 0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E } },
    { 'E', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F } },
    { 'F', { 0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10 } },
    { 'G', { 0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F } },
    { 'H', { 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11 } },
    { 'I', { 0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E } },
    { 'J', { 0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C } },
    { 'K', { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 } },
    { 'L', { 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F } },
    { 'M', { 0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11 } },
    { 'N', { 0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11 } },
    { 'O', { 0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
    { 'P', { 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10 } },
    { 'Q', { 0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D } },
    { 'R', { 0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11 } },
    { 'S', { 0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E } },
    { 'T', { 0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 } },
    { 'U', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E } },
    { 'V', { 0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04 } },
    { 'W', { 0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A } },
    { 'X', { 0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11 } },
    { 'Y', { 0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04 } },
    { 'Z', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F } },
    { '0', { 0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E } },
    { '1', { 0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E } },
    { '2', { 0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F } },
    { '3', { 0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E } },
    { '4', { 0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02 } },
    { '5', { 0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E } },
    { '6', { 0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E } },
    { '7', { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
    { '8', { 0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E } },
    { '9', { 0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C } },
    { '-', { 0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00 } },
    { '.', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C } },
    { ':', { 0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00 } },
    { '/', { 0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10 } },
};

/* The colours and shapes of one seed. */
typedef struct {
    double  c0[3], c1[3];       /* gradient ends */
    double  dx, dy;             /* gradient direction (unit) */
    struct {
        double  x, y, r, ax, ay, phase, alpha, ring;
        double  col[3];
    } shape[NANO_OFFLINE_DISCS + NANO_OFFLINE_RINGS];
} nano_offline_scene_t;

static uint64_t
nano_offline_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char  *s = p;
    size_t                i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t
nano_offline_mix(uint64_t h, const void *p, size_t n)
{
    unsigned char  sep = 0xff;

    h = nano_offline_fnv(h, &sep, 1);
    return nano_offline_fnv(h, p, n);
}

uint64_t
nano_offline_seed(const char *prompt, const char *model, long long seed)
{
    uint64_t       h = 0xcbf29ce484222325ULL;
    unsigned char  b[8];
    int            i;

    h = nano_offline_mix(h, prompt ? prompt : "", prompt ? strlen(prompt) : 0);
    h = nano_offline_mix(h, model ? model : "", model ? strlen(model) : 0);
    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char) ((unsigned long long) (seed < 0 ? -1 : seed)
                                >> (8 * i));
    }
    return nano_offline_mix(h, b, sizeof(b));
}

uint64_t
nano_offline_rand(uint64_t *state)
{
    uint64_t  z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t
nano_offline_rand_below(uint64_t *state, uint32_t n)
{
    return (uint32_t) ((nano_offline_rand(state) >> 32) * n >> 32);
}

double
nano_offline_rand01(uint64_t *state)
{
    return (double) (nano_offline_rand(state) >> 11) / 9007199254740992.0;
}

/* h in [0, 1), s, v in [0, 1] to rgb in [0, 255]. */
static void
nano_offline_hsv(double h, double s, double v, double out[3])
{
    double  f, p, q, t;
    int     i;

    h = (h - floor(h)) * 6;
    i = (int) h;
    f = h - i;
    p = v * (1 - s);
    q = v * (1 - s * f);
    t = v * (1 - s * (1 - f));
    switch (i) {
    case 0:  out[0] = v; out[1] = t; out[2] = p; break;
    case 1:  out[0] = q; out[1] = v; out[2] = p; break;
    case 2:  out[0] = p; out[1] = v; out[2] = t; break;
    case 3:  out[0] = p; out[1] = q; out[2] = v; break;
    case 4:  out[0] = t; out[1] = p; out[2] = v; break;
    default: out[0] = v; out[1] = p; out[2] = q; break;
    }
    out[0] *= 255;
    out[1] *= 255;
    out[2] *= 255;
}

static void
nano_offline_scene(uint64_t seed, nano_offline_scene_t *sc)
{
    uint64_t  st = seed;
    double    hue, a;
    int       i;

    hue = nano_offline_rand01(&st);
    nano_offline_hsv(hue, 0.45 + 0.2 * nano_offline_rand01(&st),
                     0.85 + 0.1 * nano_offline_rand01(&st), sc->c0);
    nano_offline_hsv(hue + 0.17 + 0.25 * nano_offline_rand01(&st),
                     0.55 + 0.2 * nano_offline_rand01(&st),
                     0.55 + 0.2 * nano_offline_rand01(&st), sc->c1);
    a = 2 * M_PI * nano_offline_rand01(&st);
    sc->dx = cos(a);
    sc->dy = sin(a);
    for (i = 0; i < NANO_OFFLINE_DISCS + NANO_OFFLINE_RINGS; i++) {
        sc->shape[i].x = 0.1 + 0.8 * nano_offline_rand01(&st);
        sc->shape[i].y = 0.1 + 0.7 * nano_offline_rand01(&st);
        sc->shape[i].r = 0.06 + 0.2 * nano_offline_rand01(&st);
        sc->shape[i].ax = 0.12 * (nano_offline_rand01(&st) - 0.5);
        sc->shape[i].ay = 0.12 * (nano_offline_rand01(&st) - 0.5);
        sc->shape[i].phase = 2 * M_PI * nano_offline_rand01(&st);
        sc->shape[i].alpha = 0.35 + 0.3 * nano_offline_rand01(&st);
        sc->shape[i].ring = i >= NANO_OFFLINE_DISCS;
        nano_offline_hsv(hue + 0.5 * nano_offline_rand01(&st),
                         0.35 + 0.4 * nano_offline_rand01(&st),
                         0.8 + 0.2 * nano_offline_rand01(&st),
                         sc->shape[i].col);
    }
}

static unsigned char
nano_offline_byte(double v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char) (v + 0.5);
}

/* Blends colour col at alpha into pixel p. */
static void
nano_offline_blend(unsigned char *p, const double col[3], double alpha)
{
    p[0] = nano_offline_byte(p[0] + (col[0] - p[0]) * alpha);
    p[1] = nano_offline_byte(p[1] + (col[1] - p[1]) * alpha);
    p[2] = nano_offline_byte(p[2] + (col[2] - p[2]) * alpha);
}

/* The gradient colour at (x, y) into out. */
static void
nano_offline_gradient_at(const nano_offline_scene_t *sc, int w, int h, int x,
    int y, double out[3])
{
    double  u;

    u = ((x - w / 2.0) * sc->dx + (y - h / 2.0) * sc->dy)
        / (fabs(w * sc->dx) + fabs(h * sc->dy)) + 0.5;
    out[0] = sc->c0[0] + (sc->c1[0] - sc->c0[0]) * u;
    out[1] = sc->c0[1] + (sc->c1[1] - sc->c0[1]) * u;
    out[2] = sc->c0[2] + (sc->c1[2] - sc->c0[2]) * u;
}

static void
nano_offline_shapes(const nano_offline_scene_t *sc, unsigned char *rgb,
    int w, int h, double t)
{
    double  m = w < h ? w : h, cx, cy, r, edge, d, a, ph;
    int     i, x, y, x0, x1, y0, y1;

    for (i = 0; i < NANO_OFFLINE_DISCS + NANO_OFFLINE_RINGS; i++) {
        ph = sc->shape[i].phase + 2 * M_PI * t / NANO_OFFLINE_LOOP;
        cx = (sc->shape[i].x + sc->shape[i].ax * sin(ph)) * w;
        cy = (sc->shape[i].y + sc->shape[i].ay * cos(ph)) * h;
        r = sc->shape[i].r * m * (1 + 0.08 * sin(ph * 2));
        edge = r * 0.18 + 1.5;
        x0 = (int) (cx - r - 1);
        x1 = (int) (cx + r + 1);
        y0 = (int) (cy - r - 1);
        y1 = (int) (cy + r + 1);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > w - 1) x1 = w - 1;
        if (y1 > h - 1) y1 = h - 1;
        for (y = y0; y <= y1; y++) {
            for (x = x0; x <= x1; x++) {
                d = sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                if (sc->shape[i].ring) {
                    a = 1 - fabs(d - r * 0.8) / (r * 0.12 + 1);
                } else {
                    a = (r - d) / edge;
                }
                if (a <= 0) {
                    continue;
                }
                if (a > 1) {
                    a = 1;
                }
                nano_offline_blend(rgb + ((size_t) y * w + x) * 3,
                                   sc->shape[i].col, a * sc->shape[i].alpha);
            }
        }
    }
}

static const nano_offline_glyph_t *
nano_offline_glyph(char c)
{
    size_t  i;

    if (c >= 'a' && c <= 'z') {
        c = (char) (c - 'a' + 'A');
    }
    for (i = 0; i < sizeof(nano_offline_font) / sizeof(*nano_offline_font);
         i++)
    {
        if (nano_offline_font[i].c == c) {
            return &nano_offline_font[i];
        }
    }
    return NULL;
}

int
nano_offline_text_width(const char *text, int scale)
{
    size_t  n = text ? strlen(text) : 0;

    return n == 0 ? 0 : (int) (n * 6 - 1) * scale;
}

int
nano_offline_draw_text(unsigned char *rgb, int width, int height, int x,
    int y, int scale, const char *text, const unsigned char color[3])
{
    const nano_offline_glyph_t  *g;
    int                          row, col, px, py, gx = x;
    unsigned char               *p;
    size_t                       i;

    for (i = 0; text && text[i]; i++, gx += 6 * scale) {
        g = nano_offline_glyph(text[i]);
        if (g == NULL) {
            continue;
        }
        for (row = 0; row < 7 * scale; row++) {
            py = y + row;
            if (py < 0 || py >= height) {
                continue;
            }
            for (col = 0; col < 5 * scale; col++) {
                px = gx + col;
                if (px < 0 || px >= width
                    || !(g->rows[row / scale] & (0x10 >> (col / scale))))
                {
                    continue;
                }
                p = rgb + ((size_t) py * width + px) * 3;
                p[0] = color[0];
                p[1] = color[1];
                p[2] = color[2];
            }
        }
    }
    return gx - x;
}

/*
 * A dark band along the bottom with label, and a yellow mark.  The mark
 * and label fit in the frame's central square, centred, because history
 * shows a wide or tall output as a square cut from its middle: a label at
 * the left edge read "DEO" there.  darkness: how much of the picture the
 * band hides (1: all of it).
 */
static void
nano_offline_banner(unsigned char *rgb, int w, int h, const char *label,
    double darkness)
{
    static const unsigned char  white[3] = { 255, 255, 255 };
    static const double         black[3] = { 12, 12, 20 };
    static const double         yellow[3] = { 255, 214, 10 };
    int                         side, scale, pad, bh, x, y, x0;
    char                        text[64];

    side = w < h ? w : h;
    scale = side / 100;
    if (scale < 1) {
        scale = 1;
    }
    snprintf(text, sizeof(text), "%s", label ? label : "OFFLINE");
    /* shrink to fit the square; the mark and its gap take 9 units */
    while (scale > 1
           && nano_offline_text_width(text, scale) + 15 * scale > side)
    {
        scale--;
    }
    pad = 3 * scale;
    bh = 7 * scale + 2 * pad;
    if (bh > h) {
        bh = h;
    }
    x0 = (w - (9 * scale + nano_offline_text_width(text, scale))) / 2;
    if (x0 < pad) {
        x0 = pad;
    }
    for (y = h - bh; y < h; y++) {
        for (x = 0; x < w; x++) {
            nano_offline_blend(rgb + ((size_t) y * w + x) * 3, black,
                               darkness);
        }
    }
    /* the mark: a yellow square before the text */
    for (y = h - bh + pad; y < h - pad; y++) {
        for (x = x0; x < x0 + 7 * scale && x < w; x++) {
            nano_offline_blend(rgb + ((size_t) y * w + x) * 3, yellow, 1.0);
        }
    }
    nano_offline_draw_text(rgb, w, h, x0 + 9 * scale, h - bh + pad, scale,
                           text, white);
}

void
nano_offline_paint(unsigned char *rgb, int width, int height, uint64_t seed,
    double t, const char *label)
{
    nano_offline_scene_t  sc;
    double                col[3];
    unsigned char        *p;
    int                   x, y;

    nano_offline_scene(seed, &sc);
    for (y = 0; y < height; y++) {
        for (x = 0; x < width; x++) {
            nano_offline_gradient_at(&sc, width, height, x, y, col);
            p = rgb + ((size_t) y * width + x) * 3;
            p[0] = nano_offline_byte(col[0]);
            p[1] = nano_offline_byte(col[1]);
            p[2] = nano_offline_byte(col[2]);
        }
    }
    nano_offline_shapes(&sc, rgb, width, height, t);
    nano_offline_banner(rgb, width, height, label, 0.62);
}

void
nano_offline_tint(unsigned char *rgb, int width, int height, uint64_t seed,
    const char *label)
{
    nano_offline_scene_t  sc;
    double                col[3];
    int                   x, y;

    nano_offline_scene(seed, &sc);
    for (y = 0; y < height; y++) {
        for (x = 0; x < width; x++) {
            nano_offline_gradient_at(&sc, width, height, x, y, col);
            nano_offline_blend(rgb + ((size_t) y * width + x) * 3, col, 0.3);
        }
    }
    /* opaque: the input is often an offline image itself, whose own
     * label showed through the new one ("OFFLINE EDIT" over "OFFLINE") */
    nano_offline_banner(rgb, width, height, label, 1.0);
}
