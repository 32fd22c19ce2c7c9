/*
 * Server-drawn SVG charts: the dashboard's stacked bars of credits spent
 * per day and module.  Plain text out, so a page shows it without any
 * script library.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_chart.h"

/* Geometry, in the SVG's own units (it scales to its box). */
#define NANO_CHART_W         720
#define NANO_CHART_LEFT      44      /* room for the y labels */
#define NANO_CHART_RIGHT     12
#define NANO_CHART_TOP       14
#define NANO_CHART_PLOT_H    180
#define NANO_CHART_XLABELS   22      /* the day labels' row */
#define NANO_CHART_LEGEND_H  20      /* one legend row */
#define NANO_CHART_CHAR_W    8       /* a legend character, roughly */

/* Light scheme values of --nb-chart-1..8 in backends/ui/ui.css. */
static const char *const  nano_chart_palette[NANO_CHART_COLOURS] = {
    "#c99a00", "#2f7d6d", "#c2553a", "#4a6fb5",
    "#8a5fb0", "#5f8f2f", "#b0477a", "#7a7463",
};

static const char *const  nano_chart_months[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

const char *
nano_chart_colour(int i)
{
    if (i < 0) {
        i = -i;
    }
    return nano_chart_palette[i % NANO_CHART_COLOURS];
}

long long
nano_chart_scale(long long max, long long *step)
{
    static const int  mult[] = { 1, 2, 5 };
    long long         pow10, s;
    size_t            i;

    if (max <= 0) {
        *step = 1;
        return 4;
    }
    for (pow10 = 1; pow10 <= max && pow10 <= LLONG_MAX / 50; pow10 *= 10) {
        for (i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
            s = mult[i] * pow10;
            if ((max + s - 1) / s <= 4) {
                *step = s;
                return (max + s - 1) / s * s;
            }
        }
    }
    *step = pow10;
    return pow10;
}

/* A value as the chart draws it: never below zero. */
static long long
nano_chart_value(const nano_chart_series_t *s, size_t bar)
{
    return s->values[bar] > 0 ? s->values[bar] : 0;
}

/* "Nov 3" for "2026-11-03"; the text as given when it is no date. */
static void
nano_chart_day(nano_buf_t *out, const char *iso)
{
    int  y, m, d;

    if (sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) == 3 && m >= 1 && m <= 12) {
        nano_buf_printf(out, "%s %d", nano_chart_months[m - 1], d);
    } else {
        nano_buf_html(out, iso);
    }
}

/* The legend's rows: swatch and label per series, wrapped to the width.
 * Returns the number of rows drawn (or counted, when out is NULL). */
static int
nano_chart_legend(nano_buf_t *out, const nano_chart_t *c, double y0)
{
    const double  right = NANO_CHART_W - NANO_CHART_RIGHT;
    double        x = NANO_CHART_LEFT, w;
    size_t        i;
    int           rows = c->nseries > 0 ? 1 : 0;

    for (i = 0; i < c->nseries; i++) {
        w = 16 + NANO_CHART_CHAR_W * (double) strlen(c->series[i].label) + 18;
        if (x + w > right && x > NANO_CHART_LEFT) {
            x = NANO_CHART_LEFT;
            rows++;
        }
        if (out != NULL) {
            double  y = y0 + (rows - 1) * NANO_CHART_LEGEND_H;

            nano_buf_printf(out, "<rect class=\"nb-chart-c%d\" x=\"%.2f\""
                            " y=\"%.2f\" width=\"10\" height=\"10\""
                            " fill=\"%s\"/>",
                            c->series[i].colour % NANO_CHART_COLOURS + 1,
                            x, y - 9, nano_chart_colour(c->series[i].colour));
            nano_buf_printf(out, "<text x=\"%.2f\" y=\"%.2f\">", x + 16, y);
            nano_buf_html(out, c->series[i].label);
            nano_buf_puts(out, "</text>");
        }
        x += w;
    }
    return rows;
}

/* One bar: its group, its <title> (the day and each layer's value), and
 * a rect per layer with a value. */
static void
nano_chart_bar(nano_buf_t *out, const nano_chart_t *c, size_t bar,
    double x, double width, double scale, double base)
{
    const nano_chart_series_t  *s;
    long long                   total = 0, v;
    double                      y = base, h;
    size_t                      i;
    int                         first = 1;

    for (i = 0; i < c->nseries; i++) {
        total += nano_chart_value(&c->series[i], bar);
    }
    nano_buf_printf(out, "<g class=\"nb-chart-bar\" data-bar=\"%zu\">"
                    "<title>", bar);
    nano_buf_html(out, c->bars[bar]);
    nano_buf_printf(out, ": %lld credit%s", total, total == 1 ? "" : "s");
    for (i = 0; i < c->nseries; i++) {
        if ((v = nano_chart_value(&c->series[i], bar)) > 0) {
            nano_buf_puts(out, first ? " (" : ", ");
            nano_buf_html(out, c->series[i].label);
            nano_buf_printf(out, " %lld", v);
            first = 0;
        }
    }
    nano_buf_puts(out, first ? "</title>" : ")</title>");

    for (i = 0; i < c->nseries; i++) {
        s = &c->series[i];
        if ((v = nano_chart_value(s, bar)) == 0) {
            continue;
        }
        h = (double) v * scale;
        y -= h;
        nano_buf_printf(out, "<rect class=\"nb-chart-c%d\" x=\"%.2f\""
                        " y=\"%.2f\" width=\"%.2f\" height=\"%.2f\""
                        " fill=\"%s\" data-series=\"",
                        s->colour % NANO_CHART_COLOURS + 1, x, y, width, h,
                        nano_chart_colour(s->colour));
        nano_buf_html(out, s->key);
        nano_buf_printf(out, "\" data-bar=\"%zu\" data-value=\"%lld\"/>",
                        bar, v);
    }
    nano_buf_puts(out, "</g>");
}

int
nano_chart_stacked_svg(nano_buf_t *out, const nano_chart_t *c)
{
    const double  plot_w = NANO_CHART_W - NANO_CHART_LEFT - NANO_CHART_RIGHT;
    const double  base = NANO_CHART_TOP + NANO_CHART_PLOT_H;
    long long     max = 0, sum, top, step, t;
    double        slot, width, scale, x, height;
    size_t        bar, i, every;
    int           rows;

    if (c->nbars == 0 || c->nbars > NANO_CHART_BARS_MAX || c->bars == NULL
        || (c->nseries > 0 && c->series == NULL))
    {
        return -1;
    }
    for (bar = 0; bar < c->nbars; bar++) {
        sum = 0;
        for (i = 0; i < c->nseries; i++) {
            sum += nano_chart_value(&c->series[i], bar);
        }
        max = sum > max ? sum : max;
    }
    top = nano_chart_scale(max, &step);
    scale = NANO_CHART_PLOT_H / (double) top;
    slot = plot_w / (double) c->nbars;
    width = slot * 0.7;
    rows = nano_chart_legend(NULL, c, 0);
    height = base + NANO_CHART_XLABELS + rows * NANO_CHART_LEGEND_H + 6;

    nano_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\""
                    " class=\"nb-chart\" viewBox=\"0 0 %d %.0f\""
                    " width=\"%d\" height=\"%.0f\" role=\"img\""
                    " aria-label=\"", NANO_CHART_W, height, NANO_CHART_W,
                    height);
    nano_buf_html(out, c->label);
    nano_buf_printf(out, "\" data-scale-top=\"%lld\" data-plot-height=\"%d\""
                    " font-family=\"system-ui, sans-serif\" font-size=\"12\""
                    " fill=\"currentColor\"><title>", top, NANO_CHART_PLOT_H);
    nano_buf_html(out, c->label);
    nano_buf_puts(out, "</title>");

    /* the y axis: a gridline and a label per step */
    nano_buf_puts(out, "<g class=\"nb-chart-axis\" text-anchor=\"end\">");
    for (t = 0; t <= top; t += step) {
        double  y = base - (double) t * scale;

        nano_buf_printf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.2f\""
                        " y2=\"%.2f\" stroke=\"currentColor\""
                        " stroke-opacity=\"%s\"/>", NANO_CHART_LEFT,
                        NANO_CHART_W - NANO_CHART_RIGHT, y, y,
                        t == 0 ? "0.6" : "0.15");
        nano_buf_printf(out, "<text x=\"%d\" y=\"%.2f\">%lld</text>",
                        NANO_CHART_LEFT - 6, y + 4, t);
    }
    nano_buf_puts(out, "</g>");

    /* the bars, then the day labels under them (about one a week, the
     * last bar always: that is today) */
    nano_buf_puts(out, "<g class=\"nb-chart-bars\">");
    for (bar = 0; bar < c->nbars; bar++) {
        x = NANO_CHART_LEFT + slot * (double) bar + (slot - width) / 2;
        nano_chart_bar(out, c, bar, x, width, scale, base);
    }
    nano_buf_puts(out, "</g><g class=\"nb-chart-days\""
                       " text-anchor=\"middle\">");
    every = c->nbars <= 10 ? 1 : 7;
    for (bar = 0; bar < c->nbars; bar++) {
        if ((c->nbars - 1 - bar) % every != 0) {
            continue;
        }
        nano_buf_printf(out, "<text x=\"%.2f\" y=\"%.2f\">",
                        NANO_CHART_LEFT + slot * ((double) bar + 0.5),
                        base + 16);
        nano_chart_day(out, c->bars[bar]);
        nano_buf_puts(out, "</text>");
    }
    nano_buf_puts(out, "</g>");

    if (max == 0 && c->empty != NULL) {
        nano_buf_printf(out, "<text class=\"nb-chart-empty\" x=\"%.2f\""
                        " y=\"%.2f\" text-anchor=\"middle\""
                        " font-size=\"14\">",
                        NANO_CHART_LEFT + plot_w / 2,
                        NANO_CHART_TOP + NANO_CHART_PLOT_H / 2.0);
        nano_buf_html(out, c->empty);
        nano_buf_puts(out, "</text>");
    }

    nano_buf_puts(out, "<g class=\"nb-chart-legend\">");
    nano_chart_legend(out, c, base + NANO_CHART_XLABELS + 14);
    return nano_buf_puts(out, "</g></svg>");
}
