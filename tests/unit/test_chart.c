/*
 * Unit tests for the server-drawn SVG chart (nano_chart): the scale's
 * steps, a well-formed document (tags nest, attributes quoted, only
 * XML's entities), every text escaped, bar heights proportional to the
 * values with the stacks in order, the empty chart, values below zero,
 * the palette and the refusals.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_chart.h"

/* ---- a small XML well-formedness check -------------------------------- */

/* 1 when s is well-formed XML for our purposes: one root element, tags
 * nest and match, attribute values quoted, "&" only in &lt; &gt; &amp;
 * &quot; &#NN;, no "<" in text or values. */
static int
xml_ok(const char *s, char *err, size_t errlen)
{
    char        stack[64][32];
    int         depth = 0, roots = 0;
    const char *p = s, *q;
    size_t      n;

    while (*p != '\0') {
        if (*p == '&') {
            if (strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4)
                && strncmp(p, "&amp;", 5) && strncmp(p, "&quot;", 6)
                && strncmp(p, "&#", 2))
            {
                snprintf(err, errlen, "bare & at %zu", (size_t) (p - s));
                return 0;
            }
            p++;
            continue;
        }
        if (*p != '<') {
            if (depth == 0 && *p != ' ' && *p != '\n') {
                snprintf(err, errlen, "text outside the root");
                return 0;
            }
            p++;
            continue;
        }
        if (p[1] == '/') {
            q = strchr(p, '>');
            n = (size_t) (q - p - 2);
            if (depth == 0 || strlen(stack[depth - 1]) != n
                || strncmp(stack[depth - 1], p + 2, n) != 0)
            {
                snprintf(err, errlen, "</%.*s> closes nothing open",
                         (int) n, p + 2);
                return 0;
            }
            depth--;
            p = q + 1;
            continue;
        }
        /* a start tag: name, then name="value" pairs, then > or /> */
        q = p + 1;
        n = strcspn(q, " />");
        if (n == 0 || n >= sizeof(stack[0]) || depth == 64) {
            snprintf(err, errlen, "bad tag name");
            return 0;
        }
        if (depth == 0 && roots++ > 0) {
            snprintf(err, errlen, "two roots");
            return 0;
        }
        memcpy(stack[depth], q, n);
        stack[depth][n] = '\0';
        q += n;
        for (;;) {
            while (*q == ' ') {
                q++;
            }
            if (*q == '>' || (q[0] == '/' && q[1] == '>')) {
                break;
            }
            n = strcspn(q, "=");
            if (q[n] != '=' || q[n + 1] != '"') {
                snprintf(err, errlen, "unquoted attribute in <%s>",
                         stack[depth]);
                return 0;
            }
            q += n + 2;
            while (*q != '"') {
                if (*q == '<' || *q == '\0') {
                    snprintf(err, errlen, "< in an attribute of <%s>",
                             stack[depth]);
                    return 0;
                }
                q++;
            }
            q++;
        }
        if (*q == '>') {
            depth++;
            p = q + 1;
        } else {
            p = q + 2;
        }
    }
    if (depth != 0 || roots != 1) {
        snprintf(err, errlen, "%d elements left open", depth);
        return 0;
    }
    return 1;
}

static void
assert_xml(const char *svg)
{
    char  err[128];

    if (!xml_ok(svg, err, sizeof(err))) {
        fail_msg("not well-formed: %s\n%s", err, svg);
    }
}

/* The numeric value of attribute name in the tag starting at tag. */
static double
attr(const char *tag, const char *name)
{
    char        key[40];
    const char *end = strchr(tag, '>'), *p;

    snprintf(key, sizeof(key), " %s=\"", name);
    p = strstr(tag, key);
    if (p == NULL || p > end) {
        fail_msg("no %s in %.80s", name, tag);
    }
    return strtod(p + strlen(key), NULL);
}

static int
count(const char *s, const char *what)
{
    int  n = 0;

    while ((s = strstr(s, what)) != NULL) {
        n++;
        s++;
    }
    return n;
}

/* ---- fixtures ------------------------------------------------------------ */

static const char *const  days[5] = {
    "2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02",
};
static const long long    qwen[5] = { 0, 2, 5, 0, 1 };
static const long long    banana[5] = { 4, 8, 0, 0, 12 };

static void
draw(const nano_chart_series_t *series, size_t n, nano_buf_t *out)
{
    nano_chart_t  c = {
        "Credits spent per day", "Nothing spent yet", days, 5, series, n,
    };

    nano_buf_init(out);
    assert_int_equal(nano_chart_stacked_svg(out, &c), 0);
    assert_false(out->failed);
}

/* ---- tests --------------------------------------------------------------- */

static void
scale_steps(void **state)
{
    static const long long  cases[][3] = {
        /* max, top, step */
        { 0, 4, 1 }, { -3, 4, 1 }, { 1, 1, 1 }, { 3, 3, 1 }, { 4, 4, 1 },
        { 5, 6, 2 }, { 8, 8, 2 }, { 9, 10, 5 }, { 17, 20, 5 },
        { 21, 30, 10 }, { 100, 100, 50 }, { 101, 150, 50 },
        { 999, 1000, 500 }, { 12345, 15000, 5000 },
    };
    long long               step;
    size_t                  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(nano_chart_scale(cases[i][0], &step), cases[i][1]);
        assert_int_equal(step, cases[i][2]);
    }
}

static void
well_formed(void **state)
{
    const nano_chart_series_t  s[2] = {
        { "nano-banana", "Nano Banana", 0, banana },
        { "qwen", "Qwen", 2, qwen },
    };
    nano_buf_t                 out;

    (void) state;
    draw(s, 2, &out);
    assert_xml(out.data);
    assert_int_equal(strncmp(out.data, "<svg xmlns=\"http://www.w3.org/2000/"
                             "svg\"", 39), 0);
    assert_non_null(strstr(out.data, " role=\"img\""));
    assert_non_null(strstr(out.data, " aria-label=\"Credits spent per"
                           " day\""));
    assert_non_null(strstr(out.data, "<title>Credits spent per day</title>"));
    /* a title per bar, with the day's total and its parts */
    assert_non_null(strstr(out.data, "<title>2026-11-29: 10 credits (Nano"
                           " Banana 8, Qwen 2)</title>"));
    assert_non_null(strstr(out.data, "<title>2026-12-01: 0 credits</title>"));
    /* day labels: five bars, each labelled; the legend names both */
    assert_non_null(strstr(out.data, ">Nov 28</text>"));
    assert_non_null(strstr(out.data, ">Dec 2</text>"));
    assert_non_null(strstr(out.data, ">Nano Banana</text>"));
    assert_int_equal(count(out.data, "<g class=\"nb-chart-bar\""), 5);
    nano_buf_cleanup(&out);
}

static void
text_escaped(void **state)
{
    static const char *const  evil_days[1] = { "<b>&\"'" };
    static const long long    one[1] = { 3 };
    const nano_chart_series_t s[1] = {
        { "a\"><script>", "Q&A <i>\"x\"</i>", 1, one },
    };
    nano_chart_t              c = {
        "Spent <today> & \"more\"", "<none>", evil_days, 1, s, 1,
    };
    nano_buf_t                out;

    (void) state;
    nano_buf_init(&out);
    assert_int_equal(nano_chart_stacked_svg(&out, &c), 0);
    assert_xml(out.data);
    assert_null(strstr(out.data, "<script"));
    assert_null(strstr(out.data, "<i>"));
    assert_null(strstr(out.data, "<b>"));
    assert_non_null(strstr(out.data, "aria-label=\"Spent &lt;today&gt; &amp;"
                           " &quot;more&quot;\""));
    assert_non_null(strstr(out.data, ">Q&amp;A &lt;i&gt;&quot;x&quot;"
                           "&lt;/i&gt;</text>"));
    assert_non_null(strstr(out.data, "data-series=\"a&quot;&gt;&lt;script"
                           "&gt;\""));
    nano_buf_cleanup(&out);
}

/* Every rect: height = value * plot height / scale top; a bar's rects
 * stack upwards from the axis in series order, without gaps. */
static void
heights_match(void **state)
{
    const nano_chart_series_t  s[2] = {
        { "nano-banana", "Nano Banana", 0, banana },
        { "qwen", "Qwen", 1, qwen },
    };
    nano_buf_t                 out;
    const char                *p, *svg;
    double                     top, plot, k, base = 0, y_next[5];
    int                        rects = 0, i, bar;

    (void) state;
    draw(s, 2, &out);
    svg = out.data;
    top = attr(svg, "data-scale-top");
    plot = attr(svg, "data-plot-height");
    assert_true(top == 15);             /* the largest stack is 13 */
    k = plot / top;
    for (i = 0; i < 5; i++) {
        y_next[i] = -1;
    }
    for (p = svg; (p = strstr(p, "<rect class=\"nb-chart-c")) != NULL; p++) {
        if (strstr(p, "data-value=\"") == NULL
            || strstr(p, "data-value=\"") > strchr(p, '>'))
        {
            continue;                   /* a legend swatch */
        }
        bar = (int) attr(p, "data-bar");
        assert_true(bar >= 0 && bar < 5);
        assert_true(fabs(attr(p, "height") - attr(p, "data-value") * k)
                    < 0.01);
        if (y_next[bar] < 0) {
            /* the bottom layer stands on the axis */
            if (base == 0) {
                base = attr(p, "y") + attr(p, "height");
            }
            assert_true(fabs(attr(p, "y") + attr(p, "height") - base)
                        < 0.01);
        } else {
            assert_true(fabs(attr(p, "y") + attr(p, "height") - y_next[bar])
                        < 0.01);
        }
        y_next[bar] = attr(p, "y");
        if (strncmp(strstr(p, "data-series=\"") + 13, "qwen", 4) == 0) {
            assert_true(attr(p, "data-value") == qwen[bar]);
        } else {
            assert_true(attr(p, "data-value") == banana[bar]);
        }
        rects++;
    }
    /* non-zero values only: banana 3, qwen 3 */
    assert_int_equal(rects, 6);
    nano_buf_cleanup(&out);
}

static void
empty_chart(void **state)
{
    static const long long     zero[5] = { 0, 0, 0, 0, 0 };
    const nano_chart_series_t  s[1] = { { "qwen", "Qwen", 0, zero } };
    nano_buf_t                 out;

    (void) state;
    draw(s, 1, &out);
    assert_xml(out.data);
    assert_null(strstr(out.data, "data-value="));
    assert_non_null(strstr(out.data, ">Nothing spent yet</text>"));
    assert_true(attr(out.data, "data-scale-top") == 4);
    nano_buf_cleanup(&out);

    draw(NULL, 0, &out);
    assert_xml(out.data);
    assert_non_null(strstr(out.data, ">Nothing spent yet</text>"));
    assert_null(strstr(out.data, "nb-chart-legend\"><rect"));
    nano_buf_cleanup(&out);
}

/* A day whose refunds outweigh its debits is drawn as nothing. */
static void
negative_is_zero(void **state)
{
    static const long long     neg[5] = { -4, 3, 0, 0, 0 };
    const nano_chart_series_t  s[1] = { { "qwen", "Qwen", 0, neg } };
    nano_buf_t                 out;

    (void) state;
    draw(s, 1, &out);
    assert_int_equal(count(out.data, "data-value="), 1);
    assert_non_null(strstr(out.data, "data-bar=\"1\" data-value=\"3\""));
    assert_true(attr(out.data, "data-scale-top") == 3);
    nano_buf_cleanup(&out);
}

static void
palette(void **state)
{
    const nano_chart_series_t  s[1] = { { "m", "M", 9, qwen } };
    nano_buf_t                 out;

    (void) state;
    assert_string_equal(nano_chart_colour(0), "#c99a00");
    assert_string_equal(nano_chart_colour(8), nano_chart_colour(0));
    assert_string_equal(nano_chart_colour(-1), nano_chart_colour(1));
    draw(s, 1, &out);
    /* colour 9 wraps to the second: class and fill agree */
    assert_non_null(strstr(out.data, "class=\"nb-chart-c2\""));
    assert_non_null(strstr(out.data, nano_chart_colour(1)));
    nano_buf_cleanup(&out);
}

static void
refusals(void **state)
{
    nano_chart_t  c = { "x", NULL, days, 0, NULL, 0 };
    nano_buf_t    out;

    (void) state;
    nano_buf_init(&out);
    assert_int_equal(nano_chart_stacked_svg(&out, &c), -1);
    c.nbars = NANO_CHART_BARS_MAX + 1;
    assert_int_equal(nano_chart_stacked_svg(&out, &c), -1);
    c.nbars = 1;
    c.bars = NULL;
    assert_int_equal(nano_chart_stacked_svg(&out, &c), -1);
    assert_int_equal(out.len, 0);
    nano_buf_cleanup(&out);
}

/* Thirty days label about once a week, and always the last. */
static void
thirty_days(void **state)
{
    char                       store[30][11];
    const char                *labels[30];
    long long                  v[30];
    const nano_chart_series_t  s[1] = { { "qwen", "Qwen", 0, v } };
    nano_chart_t               c = { "x", NULL, labels, 30, s, 1 };
    nano_buf_t                 out;
    int                        i;

    (void) state;
    for (i = 0; i < 30; i++) {
        snprintf(store[i], sizeof(store[i]), "2026-11-%02d", i + 1);
        labels[i] = store[i];
        v[i] = i;
    }
    nano_buf_init(&out);
    assert_int_equal(nano_chart_stacked_svg(&out, &c), 0);
    assert_xml(out.data);
    assert_non_null(strstr(out.data, ">Nov 30</text>"));
    assert_non_null(strstr(out.data, ">Nov 23</text>"));
    assert_null(strstr(out.data, ">Nov 29</text>"));
    assert_int_equal(count(out.data, "<g class=\"nb-chart-days\""), 1);
    /* 5 day labels, 0 10 20 30 on the y axis (the top is 30), 1 legend */
    assert_int_equal(count(out.data, "</text>"), 5 + 4 + 1);
    nano_buf_cleanup(&out);
}

int
main(void)
{
    static const struct CMUnitTest  tests[] = {
        cmocka_unit_test(scale_steps),
        cmocka_unit_test(well_formed),
        cmocka_unit_test(text_escaped),
        cmocka_unit_test(heights_match),
        cmocka_unit_test(empty_chart),
        cmocka_unit_test(negative_is_zero),
        cmocka_unit_test(palette),
        cmocka_unit_test(refusals),
        cmocka_unit_test(thirty_days),
    };

    return cmocka_run_group_tests_name("chart", tests, NULL, NULL);
}
