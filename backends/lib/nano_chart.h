/*
 * Charts drawn on the server as SVG (no chart library, nothing for the
 * browser to download): the stacked bar chart of the dashboard.
 */

#ifndef NANO_CHART_H
#define NANO_CHART_H

#include <stddef.h>

#include "nano_buf.h"

#define NANO_CHART_COLOURS  8       /* the palette's size */
#define NANO_CHART_BARS_MAX 366     /* bars one chart draws at most */

/* One stack layer: a module's values, one per bar; all borrowed. */
typedef struct {
    const char       *key;      /* "qwen": data-series of its rects */
    const char       *label;    /* "Qwen": the legend's words */
    int               colour;   /* palette index, kept per key so a
                                   module has one colour everywhere */
    const long long  *values;   /* nbars values; below 0 drawn as 0 */
} nano_chart_series_t;

/* A stacked bar chart; all borrowed. */
typedef struct {
    const char                 *label;   /* aria-label and <title> */
    const char                 *empty;   /* shown when every value is 0 */
    const char *const          *bars;    /* nbars "YYYY-MM-DD" */
    size_t                      nbars;
    const nano_chart_series_t  *series;  /* bottom layer first */
    size_t                      nseries;
} nano_chart_t;

/*
 * The palette's colour i (mod NANO_CHART_COLOURS) as "#rrggbb": the
 * light scheme's --nb-chart-<i+1> of backends/ui/ui.css, which the page
 * swaps for its own scheme through the rects' class nb-chart-c<i+1>.
 */
const char *nano_chart_colour(int i);

/*
 * The scale's top for a largest stack of max: the smallest multiple of
 * a step of 1, 2 or 5 times a power of ten that holds max with at most
 * four steps; *step receives the step.  max <= 0 gives 4 (step 1).
 */
long long nano_chart_scale(long long max, long long *step);

/*
 * Appends the chart to out as one standalone SVG element (well-formed
 * XML, role="img", aria-label and <title> from c->label, every text
 * escaped): one <g class="nb-chart-bar"> per bar with its <title>, one
 * <rect> per non-zero value with data-series, data-bar (the index) and
 * data-value, the y axis with its gridlines, day labels under the bars,
 * and a legend.  Bar heights are value * plot height / scale top.
 * Returns 0, or -1 when out failed or c is malformed (nbars 0 or over
 * NANO_CHART_BARS_MAX).
 */
int nano_chart_stacked_svg(nano_buf_t *out, const nano_chart_t *c);

#endif /* NANO_CHART_H */
