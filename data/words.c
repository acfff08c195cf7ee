/* Text sources for the renderer: what the synthetic crops say.
 *
 * Scene text is mostly words, often in capitals, mostly 3..8 letters (train sets: 59% UPPER, 23%
 * Title, 15% lower, about 8% with digits), with a tail of numbers, prices, dates, times, codes,
 * plates, phone numbers, web addresses and punctuation. The generators below follow that mix;
 * dictionary words are drawn by length from a scene-text-like length distribution (so rare long
 * dictionary words do not dominate), and a built-in list of frequent sign and function words gets
 * extra weight because a dictionary carries no frequencies.
 * Everything is printable ASCII (32..126); spaces only inside phrases, plates and phone numbers.
 */
#include "render_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXL ICSTR_RENDER_MAX_LEN
#define MAX_WORD_FILE ((long)64 * 1024 * 1024)

struct icstr_words {
    char *pool; /* words, NUL-separated, lower case */
    uint32_t *by_len; /* offsets into pool, sorted by length */
    long start[MAXL + 2]; /* words of length L are by_len[start[L] .. start[L+1]) */
    long n;
};

/* Relative frequency of word lengths 1..25 (train-set shape with a heavier tail). */
static const float len_weight[MAXL + 1] = {0,    1.0f,  3.0f,  13.0f, 16.0f, 13.0f, 11.0f, 9.0f,  6.5f,
                                           4.5f, 3.0f,  2.0f,  1.5f,  1.0f,  0.7f,  0.5f,  0.35f, 0.25f,
                                           0.2f, 0.15f, 0.12f, 0.1f,  0.08f, 0.06f, 0.05f, 0.04f};

/* clang-format off */
static const char *const common_words[] = {
    "exit", "open", "closed", "sale", "stop", "push", "pull", "parking", "car", "park", "entrance",
    "toilet", "toilets", "lift", "shop", "shops", "store", "mall", "center", "centre", "street",
    "road", "avenue", "station", "hotel", "restaurant", "cafe", "coffee", "bar", "pizza", "food",
    "bank", "pharmacy", "hospital", "school", "police", "taxi", "bus", "train", "service", "market",
    "new", "free", "off", "only", "no", "entry", "way", "one", "keep", "clear", "danger", "caution",
    "warning", "please", "do", "not", "the", "of", "and", "to", "in", "for", "is", "on", "at",
    "with", "by", "from", "your", "you", "we", "our", "all", "are", "be", "this", "it", "a", "an",
    "or", "as", "more", "best", "big", "day", "days", "time", "life", "world", "city", "house",
    "home", "love", "good", "great", "world", "king", "star", "sun", "gold", "club", "west", "east",
    "north", "south", "main", "high", "hall", "room", "floor", "level", "door", "gate", "area",
    "zone", "office", "tel", "fax", "email", "www", "info", "help", "call", "now", "here", "sold",
    "rent", "buy", "get", "save", "up", "down", "left", "right", "in", "out", "men", "women",
    "ladies", "kids", "baby", "fashion", "beauty", "hair", "salon", "spa", "fitness", "gym",
    "sports", "music", "books", "games", "mobile", "phone", "computer", "digital", "photo", "art",
    "design", "studio", "gallery", "museum", "theatre", "theater", "cinema", "church", "temple",
    "garden", "bridge", "tower", "plaza", "square", "court", "lane", "drive", "place", "express",
    "airport", "terminal", "platform", "ticket", "tickets", "sales", "fresh", "bakery", "bread",
    "tea", "milk", "ice", "cream", "chicken", "rice", "noodle", "noodles", "beer", "wine", "water",
    "fire", "emergency", "smoking", "welcome", "thank", "thanks", "happy", "special", "offer",
    "price", "prices", "discount", "limited", "quality", "original", "international", "national",
    "royal", "grand", "central", "city", "village", "town", "london", "new", "york", "china",
    "japan", "india", "america", "united", "kingdom", "company", "group", "limited", "ltd", "inc",
    "co", "corp", "bros", "supermarket", "minimart", "motel", "inn", "pub", "grill", "kitchen",
    "house", "express", "delivery", "order", "online", "shopping", "super", "mart", "auto",
    "motors", "tyres", "tires", "repair", "wash", "laundry", "clinic", "dental", "medical",
    "health", "care", "pet", "flowers", "florist", "jewellery", "jewelry", "watch", "optical",
    "shoes", "bags", "toys", "electronics", "hardware", "paint", "tools", "furniture", "lighting",
    "bed", "bath", "kitchen", "deli", "burger", "chips", "fish", "steak", "sushi", "thai", "grill",
    "diner", "snack", "juice", "smoothie", "donut", "cookies", "cake", "candy", "chocolate",
    "vegan", "organic", "natural", "original", "classic", "premium", "luxury", "deluxe", "plus",
    "max", "mini", "pro", "line", "lines", "road", "st", "rd", "ave", "blvd", "hwy", "route",
    "speed", "limit", "slow", "yield", "ahead", "turn", "only", "lane", "bike", "walk", "cross",
};
/* clang-format on */
#define N_COMMON ((int)(sizeof common_words / sizeof *common_words))

/* clang-format off */
static const char *const contractions[] = {
    "don't", "can't", "won't", "it's", "I'm", "we're", "you're", "let's", "that's", "o'clock",
    "isn't", "didn't", "doesn't", "I'll", "we'll", "you'll", "they're", "there's", "what's",
    "rock'n'roll", "'n'", "y'all", "ma'am", "'til", "'90s", "'80s", "'70s", "'s",
};
/* clang-format on */
#define N_CONTRACT ((int)(sizeof contractions / sizeof *contractions))

/* clang-format off */
static const char *const abbrevs[] = {
    "U.S.", "U.K.", "e.g.", "i.e.", "St.", "Dr.", "No.", "Mr.", "Mrs.", "Ms.", "Co.", "Ltd.",
    "Inc.", "Ave.", "Rd.", "Jr.", "Sr.", "etc.", "vs.", "a.m.", "p.m.", "U.S.A.", "Mt.", "Ft.",
    "AT&T", "B&Q", "R&D", "M&S", "H&M", "P&O", "A&W", "Q&A", "24/7", "w/", "c/o", "n/a", "A/C",
};
/* clang-format on */
#define N_ABBREV ((int)(sizeof abbrevs / sizeof *abbrevs))

static const char *const tlds[] = {".com", ".org", ".net",  ".co.uk", ".sg",
                                   ".in",  ".de",  ".info", ".biz",   ".edu"};
static const char *const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const weekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
/* clang-format off */
static const char *const code_patterns[] = {
    "LL-DDDD", "LDD", "LLDD", "LDL", "DLLLDDD", "LLL DDD", "LLL-DDD", "DDD-LLL", "L-DD", "LLDDLL",
    "DDL", "DL", "LD", "LLLL DDDD", "L.DDD", "LL DD LLL", "DDDD", "LLD", "LDDD", "#DDD", "No.DD",
    "LL-DD-LL", "DDLLDDDD", "L DDD LLL", "LLLDDDD", "DDD", "LL", "DLL-DDDD", "LLDLL", "LDDL",
};
/* clang-format on */
#define N_CODE ((int)(sizeof code_patterns / sizeof *code_patterns))

static const char punct_all[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static int cmp_len_then_str(const void *a, const void *b, void *pool) {
    const char *sa = (const char *)pool + *(const uint32_t *)a,
               *sb = (const char *)pool + *(const uint32_t *)b;
    size_t la = strlen(sa), lb = strlen(sb);
    if (la != lb) return la < lb ? -1 : 1;
    return strcmp(sa, sb);
}

void icstr_words_free(icstr_words *w) {
    if (!w) return;
    free(w->pool);
    free(w->by_len);
    free(w);
}

long icstr_words_count(const icstr_words *w) { return w ? w->n : 0; }

/* Appends the usable words of one file: printable ASCII, no spaces, 1..25 chars, lower-cased,
 * possessives ("'s") dropped (the punctuation generator adds them back). */
static int load_file(icstr_words *w, const char *path, size_t *used, size_t *cap, long *ncap) {
    FILE *f = fopen(path, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "word list %s: %s", path, strerror(errno));
    char line[256];
    long total = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        total += (long)n;
        if (total > MAX_WORD_FILE) {
            fclose(f);
            return icstr_fail(ICSTR_ERR_LIMIT, "word list %s: over %ld bytes", path, MAX_WORD_FILE);
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0 || n > MAXL) continue;
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c <= 32 || c > 126) ok = 0;
            line[i] = (char)tolower(c);
        }
        if (!ok || (n > 2 && line[n - 2] == '\'' && line[n - 1] == 's')) continue;
        if (*used + n + 1 > *cap) {
            size_t nc = *cap ? 2 * *cap : 1 << 20;
            char *p = realloc(w->pool, nc);
            if (!p) {
                fclose(f);
                return icstr_fail(ICSTR_ERR_NOMEM, "word list");
            }
            w->pool = p;
            *cap = nc;
        }
        if (w->n == *ncap) {
            long nn = *ncap ? 2 * *ncap : 65536;
            uint32_t *p = realloc(w->by_len, (size_t)nn * sizeof *p);
            if (!p) {
                fclose(f);
                return icstr_fail(ICSTR_ERR_NOMEM, "word list");
            }
            w->by_len = p;
            *ncap = nn;
        }
        if (*used + n + 1 > UINT32_MAX) break;
        memcpy(w->pool + *used, line, n + 1);
        w->by_len[w->n++] = (uint32_t)*used;
        *used += n + 1;
    }
    fclose(f);
    return ICSTR_OK;
}

int icstr_words_load(const char *paths, icstr_words **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "words: NULL out");
    *out = NULL;
    if (!paths) paths = "/usr/share/dict/american-english:/usr/share/dict/british-english";
    icstr_words *w = calloc(1, sizeof *w);
    char *copy = strdup(paths);
    if (!w || !copy) {
        free(w);
        free(copy);
        return icstr_fail(ICSTR_ERR_NOMEM, "words");
    }
    size_t used = 0, cap = 0;
    long ncap = 0;
    int rc = ICSTR_OK, files = 0;
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p && rc == ICSTR_OK; p = strtok_r(NULL, ":", &save)) {
        rc = load_file(w, p, &used, &cap, &ncap);
        files++;
    }
    free(copy);
    if (rc == ICSTR_OK && w->n == 0) rc = icstr_fail(ICSTR_ERR_NOTFOUND, "no usable words in %s", paths);
    if (rc) {
        icstr_words_free(w);
        return rc;
    }
    qsort_r(w->by_len, (size_t)w->n, sizeof *w->by_len, cmp_len_then_str, w->pool);
    long k = 0; /* drop duplicates (the two dictionaries overlap) */
    for (long i = 0; i < w->n; i++)
        if (k == 0 || strcmp(w->pool + w->by_len[i], w->pool + w->by_len[k - 1]))
            w->by_len[k++] = w->by_len[i];
    w->n = k;
    long i = 0;
    for (int L = 0; L <= MAXL + 1; L++) {
        while (i < w->n && (long)strlen(w->pool + w->by_len[i]) < L) i++;
        w->start[L] = i;
    }
    *out = w;
    return ICSTR_OK;
}

/* ---- helpers ---- */

static int below(icstr_rng *r, int n) { return (int)icstr_rng_below(r, (uint32_t)n); }

static int pick_len(icstr_rng *r, int lo, int hi) {
    if (lo < 1) lo = 1;
    if (hi > MAXL) hi = MAXL;
    if (hi < lo) hi = lo;
    float tot = 0;
    for (int L = lo; L <= hi; L++) tot += len_weight[L];
    float u = icstr_rng_uniform(r) * tot;
    for (int L = lo; L <= hi; L++) {
        u -= len_weight[L];
        if (u < 0) return L;
    }
    return hi;
}

/* A dictionary (or frequent) word of about length L, lower case. */
static const char *dict_word(const icstr_words *w, icstr_rng *r, int L) {
    if (chance(r, 0.18f)) {
        const char *c = common_words[below(r, N_COMMON)];
        if ((int)strlen(c) <= L + 2) return c;
    }
    for (int d = 0; d <= MAXL; d++) { /* nearest length that has words */
        int cand[2] = {L + d, L - d};
        for (int k = 0; k < 2; k++) {
            int l = cand[k];
            if (l < 1 || l > MAXL) continue;
            long n = w->start[l + 1] - w->start[l];
            if (n > 0)
                return w->pool + w->by_len[w->start[l] + (long)icstr_rng_below(
                                                             r, (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n))];
        }
    }
    return "text";
}

static void apply_case(char *s, int mode, icstr_rng *r) {
    int first = 1;
    for (char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!isalpha(c)) {
            if (c == ' ' || c == '-' || c == '/') first = 1;
            continue;
        }
        switch (mode) {
        case WORDS_CASE_LOWER: *p = (char)tolower(c); break;
        case WORDS_CASE_UPPER: *p = (char)toupper(c); break;
        case WORDS_CASE_TITLE: *p = (char)(first ? toupper(c) : tolower(c)); break;
        default: *p = (char)(chance(r, 0.3f) ? toupper(c) : tolower(c)); break;
        }
        first = 0;
    }
}

int icstr_words_pick_case(icstr_rng *r, float p_upper) {
    float u = icstr_rng_uniform(r);
    if (u < p_upper) return WORDS_CASE_UPPER;
    u -= p_upper;
    float rest = 1.0f - p_upper;
    if (u < 0.45f * rest) return WORDS_CASE_TITLE;
    if (u < 0.93f * rest) return WORDS_CASE_LOWER;
    return WORDS_CASE_MIXED;
}

int icstr_words_pick_kind(icstr_rng *r) {
    static const float wt[WORDS_NKINDS] = {0.60f, 0.10f, 0.03f, 0.08f, 0.03f,
                                           0.06f, 0.02f, 0.04f, 0.02f, 0.02f};
    float u = icstr_rng_uniform(r);
    for (int k = 0; k < WORDS_NKINDS; k++) {
        u -= wt[k];
        if (u < 0) return k;
    }
    return WORDS_KIND_WORD;
}

/* Bounded appends: the buffer holds 4 * MAXL so generators can overshoot and be checked after. */
#define BUF (4 * MAXL + 8)
static void cat(char *b, const char *s) {
    size_t n = strlen(b), m = strlen(s);
    if (n + m >= BUF) m = BUF - 1 - n;
    memcpy(b + n, s, m);
    b[n + m] = 0;
}
static void catc(char *b, char c) {
    char s[2] = {c, 0};
    cat(b, s);
}
static void digits(char *b, icstr_rng *r, int n, int lead_zero) {
    for (int i = 0; i < n; i++)
        catc(b, (char)('0' + ((i == 0 && !lead_zero) ? 1 + below(r, 9) : below(r, 10))));
}
static void number(char *b, icstr_rng *r, int maxdig) { digits(b, r, 1 + below(r, maxdig), 0); }

static void gen_word(const icstr_words *w, icstr_rng *r, int cm, int lo, int hi, char *b) {
    char t[MAXL + 1];
    snprintf(t, sizeof t, "%s", dict_word(w, r, pick_len(r, lo, hi)));
    apply_case(t, cm, r);
    cat(b, t);
}

static void gen_punct(const icstr_words *w, icstr_rng *r, int cm, int lo, int hi, char *b) {
    char t[MAXL + 1];
    int v = below(r, 10);
    if (v == 0) {
        snprintf(t, sizeof t, "%s", contractions[below(r, N_CONTRACT)]);
        if (!strcmp(t, "'s")) {
            gen_word(w, r, cm, lo, hi - 2, b);
            cat(b, "'s");
            return;
        }
        if (cm != WORDS_CASE_LOWER && cm != WORDS_CASE_MIXED) apply_case(t, cm, r);
        cat(b, t);
    } else if (v == 1) {
        snprintf(t, sizeof t, "%s", abbrevs[below(r, N_ABBREV)]);
        if (cm == WORDS_CASE_UPPER) apply_case(t, cm, r);
        cat(b, t);
    } else if (v <= 4) { /* trailing mark */
        static const char tail[] = ".,!?:;.!";
        gen_word(w, r, cm, lo, hi - 1, b);
        catc(b, tail[below(r, (int)sizeof tail - 1)]);
        if (chance(r, 0.1f)) catc(b, '!');
    } else if (v <= 6) { /* enclosed */
        static const char *const open[] = {"(", "\"", "'", "[", "<", "{", "*", "-"};
        static const char *const close[] = {")", "\"", "'", "]", ">", "}", "*", "-"};
        int k = below(r, 8);
        cat(b, open[k]);
        gen_word(w, r, cm, lo, hi - 2, b);
        cat(b, close[k]);
    } else if (v == 7) { /* hyphenated */
        gen_word(w, r, cm, 1, (hi - 1) / 2, b);
        catc(b, chance(r, 0.8f) ? '-' : '/');
        gen_word(w, r, cm, 1, (hi - 1) / 2, b);
    } else if (v == 8) { /* leading mark */
        static const char head[] = "#@$&*+~";
        catc(b, head[below(r, (int)sizeof head - 1)]);
        gen_word(w, r, cm, lo, hi - 1, b);
    } else { /* e-mail, U.S.-like dotted initials */
        if (chance(r, 0.5f)) {
            gen_word(w, r, cm, 1, 1, b);
            catc(b, '-');
            gen_word(w, r, cm, lo, hi - 2, b);
        } else {
            int n = 2 + below(r, 3);
            for (int i = 0; i < n; i++) {
                catc(b, (char)('A' + below(r, 26)));
                catc(b, '.');
            }
        }
    }
}

static void gen_compound(const icstr_words *w, icstr_rng *r, int lo, int hi, char *b) {
    (void)lo;
    int sep = below(r, 5);
    int cm = chance(r, 0.5f) ? WORDS_CASE_TITLE : WORDS_CASE_UPPER;
    gen_word(w, r, cm, 2, hi / 2, b);
    if (sep == 1)
        catc(b, '&');
    else if (sep == 2)
        catc(b, '-');
    gen_word(w, r, sep == 0 ? WORDS_CASE_TITLE : cm, 2, hi / 2, b);
}

static void gen_number(icstr_rng *r, char *b) {
    int v = below(r, 12);
    switch (v) {
    case 0:
    case 1: number(b, r, 4); break;
    case 2: /* price */
        if (chance(r, 0.7f)) catc(b, '$');
        number(b, r, 3);
        if (chance(r, 0.7f)) {
            catc(b, '.');
            digits(b, r, 2, 1);
        }
        break;
    case 3: /* European decimal, thousands */
        number(b, r, 3);
        catc(b, ',');
        digits(b, r, chance(r, 0.5f) ? 2 : 3, 1);
        break;
    case 4:
        number(b, r, 2);
        catc(b, '%');
        if (chance(r, 0.3f)) {
            memmove(b + 1, b, strlen(b) + 1);
            b[0] = '-';
        }
        break;
    case 5: { /* ordinal */
        int n = 1 + below(r, 99);
        const char *suf = (n % 10 == 1 && n % 100 != 11)   ? "st"
                          : (n % 10 == 2 && n % 100 != 12) ? "nd"
                          : (n % 10 == 3 && n % 100 != 13) ? "rd"
                                                           : "th";
        char t[16];
        if (chance(r, 0.3f))
            snprintf(t, sizeof t, "%d%c%c", n, toupper(suf[0]), toupper(suf[1]));
        else
            snprintf(t, sizeof t, "%d%s", n, suf);
        cat(b, t);
        break;
    }
    case 6:
        number(b, r, 1);
        catc(b, '/');
        number(b, r, 2);
        break;
    case 7:
        catc(b, "+-x#"[below(r, 4)]);
        number(b, r, 3);
        break;
    case 8: number(b, r, 6); break;
    case 9:
        number(b, r, 1);
        catc(b, ',');
        digits(b, r, 3, 1);
        if (chance(r, 0.4f)) {
            catc(b, '.');
            digits(b, r, 2, 1);
        }
        break;
    case 10:
        number(b, r, 3);
        catc(b, '.');
        digits(b, r, 1 + below(r, 2), 1);
        break;
    default: digits(b, r, 2 + below(r, 5), 1); break;
    }
}

static void gen_datetime(icstr_rng *r, char *b) {
    char t[40];
    int d = 1 + below(r, 28), m = 1 + below(r, 12), y = 1950 + below(r, 80), h = below(r, 24),
        mi = below(r, 60);
    switch (below(r, 10)) {
    case 0: snprintf(t, sizeof t, "%02d/%02d/%04d", d, m, y); break;
    case 1: snprintf(t, sizeof t, "%04d-%02d-%02d", y, m, d); break;
    case 2: snprintf(t, sizeof t, "%02d.%02d.%02d", d, m, y % 100); break;
    case 3: snprintf(t, sizeof t, "%d:%02d", h, mi); break;
    case 4:
        snprintf(t, sizeof t, "%d:%02d%s", 1 + h % 12, mi,
                 chance(r, 0.5f) ? (h < 12 ? "AM" : "PM") : (h < 12 ? "am" : "pm"));
        break;
    case 5: snprintf(t, sizeof t, "%d%s", 1 + h % 12, h < 12 ? "am" : "pm"); break;
    case 6: snprintf(t, sizeof t, "%d:%02d-%d:%02d", h % 12, 0, 12 + h % 12, 30 * below(r, 2)); break;
    case 7: snprintf(t, sizeof t, "%d", y); break;
    case 8: snprintf(t, sizeof t, "%d%s%s", d, chance(r, 0.5f) ? " " : "-", months[m - 1]); break;
    default: snprintf(t, sizeof t, "%s-%s", weekdays[below(r, 7)], weekdays[below(r, 7)]); break;
    }
    cat(b, t);
}

static void gen_code(icstr_rng *r, char *b) {
    const char *p = code_patterns[below(r, N_CODE)];
    int lower = chance(r, 0.1f);
    for (; *p; p++) {
        if (*p == 'L')
            catc(b, (char)((lower ? 'a' : 'A') + below(r, 26)));
        else if (*p == 'D')
            catc(b, (char)('0' + below(r, 10)));
        else
            catc(b, *p);
    }
}

static void gen_contact(const icstr_words *w, icstr_rng *r, char *b) {
    switch (below(r, 7)) {
    case 0:
        digits(b, r, 3, 0);
        catc(b, '-');
        digits(b, r, 4, 1);
        break;
    case 1:
        catc(b, '(');
        digits(b, r, 3, 0);
        cat(b, ") ");
        digits(b, r, 3, 1);
        catc(b, '-');
        digits(b, r, 4, 1);
        break;
    case 2:
        cat(b, "+");
        digits(b, r, 1 + below(r, 2), 0);
        catc(b, ' ');
        digits(b, r, 3, 1);
        catc(b, ' ');
        digits(b, r, 4, 1);
        break;
    case 3:
        cat(b, chance(r, 0.5f) ? "www." : "");
        gen_word(w, r, WORDS_CASE_LOWER, 3, 9, b);
        cat(b, tlds[below(r, 10)]);
        break;
    case 4:
        gen_word(w, r, WORDS_CASE_LOWER, 2, 6, b);
        catc(b, '@');
        gen_word(w, r, WORDS_CASE_LOWER, 3, 7, b);
        cat(b, tlds[below(r, 4)]);
        break;
    case 5:
        catc(b, chance(r, 0.5f) ? '@' : '#');
        gen_word(w, r, chance(r, 0.5f) ? WORDS_CASE_LOWER : WORDS_CASE_TITLE, 3, 10, b);
        break;
    default:
        cat(b, chance(r, 0.5f) ? "Tel:" : "TEL ");
        digits(b, r, 4, 0);
        catc(b, ' ');
        digits(b, r, 4, 1);
        break;
    }
}

static void gen_alnum(icstr_rng *r, int lo, int hi, char *b) {
    int n = pick_len(r, lo, hi < 12 ? hi : 12);
    int mode = below(r, 4); /* upper+digits, lower+digits, any, letters then digits */
    for (int i = 0; i < n; i++) {
        char c;
        if (mode == 0)
            c = chance(r, 0.35f) ? (char)('0' + below(r, 10)) : (char)('A' + below(r, 26));
        else if (mode == 1)
            c = chance(r, 0.35f) ? (char)('0' + below(r, 10)) : (char)('a' + below(r, 26));
        else if (mode == 2)
            c = alnum[below(r, 62)];
        else
            c = (i < n / 2) ? (char)('A' + below(r, 26)) : (char)('0' + below(r, 10));
        catc(b, c);
    }
}

static void gen_random(icstr_rng *r, int lo, int hi, char *b) {
    int n = pick_len(r, lo, hi < 10 ? hi : 10);
    for (int i = 0; i < n; i++) {
        if (chance(r, 0.5f))
            catc(b, punct_all[below(r, (int)sizeof punct_all - 1)]);
        else
            catc(b, alnum[below(r, 62)]);
    }
}

static void gen_phrase(const icstr_words *w, icstr_rng *r, int cm, int hi, char *b) {
    int n = 2 + chance(r, 0.25f);
    int each = (hi - (n - 1)) / n;
    if (each < 1) each = 1;
    for (int i = 0; i < n; i++) {
        if (i) catc(b, ' ');
        gen_word(w, r, cm, 1, each > 7 ? 7 : each, b);
    }
}

static int valid_text(const char *s, int lo, int hi) {
    int n = (int)strlen(s);
    if (n < lo || n > hi) return 0;
    if (s[0] == ' ' || s[n - 1] == ' ') return 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < 32 || s[i] > 126) return 0;
        if (s[i] == ' ' && s[i + 1] == ' ') return 0;
    }
    return 1;
}

void icstr_words_generate(const icstr_words *w, icstr_rng *r, int kind, int casemode, float p_upper,
                          int min_len, int max_len, char *out) {
    if (min_len < 1) min_len = 1;
    if (max_len > MAXL) max_len = MAXL;
    if (max_len < min_len) max_len = min_len;
    char b[BUF];
    for (int attempt = 0; attempt < 12; attempt++) {
        int k = kind >= 0 ? kind : icstr_words_pick_kind(r);
        int cm = casemode >= 0 ? casemode : icstr_words_pick_case(r, p_upper);
        b[0] = 0;
        switch (k) {
        case WORDS_KIND_PUNCT: gen_punct(w, r, cm, min_len, max_len, b); break;
        case WORDS_KIND_COMPOUND: gen_compound(w, r, min_len, max_len, b); break;
        case WORDS_KIND_NUMBER: gen_number(r, b); break;
        case WORDS_KIND_DATETIME: gen_datetime(r, b); break;
        case WORDS_KIND_CODE: gen_code(r, b); break;
        case WORDS_KIND_CONTACT: gen_contact(w, r, b); break;
        case WORDS_KIND_ALNUM: gen_alnum(r, min_len, max_len, b); break;
        case WORDS_KIND_RANDOM: gen_random(r, min_len, max_len, b); break;
        case WORDS_KIND_PHRASE: gen_phrase(w, r, cm, max_len, b); break;
        default: gen_word(w, r, cm, min_len, max_len, b); break;
        }
        if (valid_text(b, min_len, max_len)) {
            memcpy(out, b, strlen(b) + 1);
            return;
        }
        if (attempt >= 5) kind = WORDS_KIND_ANY; /* this kind cannot meet the length: any other */
    }
    /* fallback that always meets the length: letters */
    int n = min_len + below(r, max_len - min_len + 1);
    for (int i = 0; i < n; i++) out[i] = (char)('A' + below(r, 26));
    out[n] = 0;
}
