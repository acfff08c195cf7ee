/* The pool's labels as a lexicon for lines read in pieces (see pool_lexicon.h,
 * icstr_pool_lexicon_correct_pieces). */
#include "pool_lexicon.h"
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PIECES_TEXT 256 /* a line's texts: ICSTR_TEXT_CAP */
#define MERGES 6        /* words the pieces' edges cut, put right per line */

typedef struct {
    int n_pieces;
    const char *piece[ICSTR_LINE_MAX_PIECES]; /* the pieces' readings, trimmed (not NUL-ended) */
    int piece_len[ICSTR_LINE_MAX_PIECES];
    const unsigned char *glued;        /* (n_pieces) 1: the piece joins the previous one with no
                                          space (a cut between letters); NULL: none does */
    char stripped[PIECES_TEXT];        /* the pieces' readings without spaces, ASCII lower-cased */
    int edge[ICSTR_LINE_MAX_PIECES];   /* stripped length through piece j */
    int *dp;                           /* (PIECES_TEXT + 1)^2 the alignment's table */
} line_reading;

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* t[0, n) without its leading and trailing spaces: *s its start; returns its length */
static int trimmed(const char *t, int n, const char **s) {
    while (n && t[0] == ' ') t++, n--;
    while (n && t[n - 1] == ' ') n--;
    *s = t;
    return n;
}

/* the line's pieces' readings; 0 where they do not fit the texts' cap */
static int read_line(line_reading *lr, char *const *piece_texts, const unsigned char *glued, int count) {
    int n = 0;
    lr->n_pieces = count;
    lr->glued = glued;
    for (int j = 0; j < count; j++) {
        lr->piece_len[j] = trimmed(piece_texts[j], (int)strlen(piece_texts[j]), &lr->piece[j]);
        for (int c = 0; c < lr->piece_len[j]; c++) {
            if (lr->piece[j][c] == ' ') continue;
            if (n + 1 >= PIECES_TEXT) return 0;
            lr->stripped[n++] = (char)lower((unsigned char)lr->piece[j][c]);
        }
        lr->edge[j] = n;
    }
    lr->stripped[n] = 0;
    return 1;
}

/* Cuts a candidate (text) into the pieces' parts: part j is text[at[j], at[j + 1]) (trimmed by
 * the caller), cut where the candidate's characters align (edit distance, either case, spaces
 * left out) with the edges between the pieces' readings; where an edge falls in a run of the
 * candidate's own characters (inserted ones), at a space of the candidate there if it has one. */
static void cut_candidate(line_reading *lr, const char *text, int *at) {
    int pos[PIECES_TEXT], m = 0, len = (int)strlen(text), n = lr->edge[lr->n_pieces - 1];
    char cs[PIECES_TEXT];
    for (int i = 0; i < len && m < PIECES_TEXT - 1; i++)
        if (text[i] != ' ') pos[m] = i, cs[m++] = (char)lower((unsigned char)text[i]);
    int W = m + 1, *d = lr->dp;
    for (int r = 0; r <= n; r++)
        for (int c = 0; c <= m; c++) {
            if (!r || !c) {
                d[r * W + c] = r + c;
                continue;
            }
            int best = d[(r - 1) * W + c - 1] + (lr->stripped[r - 1] != cs[c - 1]);
            if (d[(r - 1) * W + c] + 1 < best) best = d[(r - 1) * W + c] + 1;
            if (d[r * W + c - 1] + 1 < best) best = d[r * W + c - 1] + 1;
            d[r * W + c] = best;
        }
    /* walk the alignment back from the end; lo[r]..hi[r]: the candidate positions at row r */
    int lo[PIECES_TEXT], hi[PIECES_TEXT];
    for (int r = 0; r <= n; r++) lo[r] = m, hi[r] = 0;
    for (int r = n, c = m;;) {
        if (c < lo[r]) lo[r] = c;
        if (c > hi[r]) hi[r] = c;
        if (!r && !c) break;
        int v = d[r * W + c];
        if (r && c && v == d[(r - 1) * W + c - 1] + (lr->stripped[r - 1] != cs[c - 1])) r--, c--;
        else if (r && v == d[(r - 1) * W + c] + 1) r--;
        else c--;
    }
    at[0] = 0;
    for (int j = 0; j + 1 < lr->n_pieces; j++) {
        int r = lr->edge[j], c = lo[r];
        for (int t = lo[r]; t <= hi[r]; t++) /* a space of the candidate within the run */
            if (t > 0 && t < m && pos[t] > pos[t - 1] + 1) {
                c = t;
                break;
            }
        int cut = c <= 0 ? 0 : c >= m ? len : pos[c];
        while (cut < len && ((unsigned char)text[cut] & 0xC0) == 0x80) cut++; /* whole characters */
        at[j + 1] = cut < at[j] ? at[j] : cut;
    }
    at[lr->n_pieces] = len;
}

/* the line's reading with the words its pieces' edges cut put right: out gets up to MERGES + 1
 * texts of PIECES_TEXT bytes (each merge alone, then all of them when more than one); returns how
 * many */
static int merge_candidates(const icstr_pool_lexicon *lx, const line_reading *lr, double max_ned, char *out) {
    int edge_of[MERGES], word_of[MERGES], k = 0;
    char raw[PIECES_TEXT], clean[PIECES_TEXT];
    for (int j = 0; j + 1 < lr->n_pieces && k < MERGES; j++) {
        const char *a = lr->piece[j], *b = lr->piece[j + 1];
        int na = lr->piece_len[j], nb = lr->piece_len[j + 1], sa = na, eb = 0;
        if (!na || !nb) continue;
        while (sa && a[sa - 1] != ' ') sa--;    /* piece j's last word: a[sa, na) */
        while (eb < nb && b[eb] != ' ') eb++;    /* piece j + 1's first: b[0, eb) */
        int known = 0;
        for (int h = 0; h < 2 && !known; h++) { /* a half that is a word of the labels stays */
            int from = h ? 0 : sa, to = h ? eb : na;
            memcpy(raw, (h ? b : a) + from, (size_t)(to - from));
            raw[to - from] = 0;
            known = icstr_score_clean(ICSTR_SCORE_STANDARD, raw, clean, sizeof clean) >= 0 &&
                    icstr_lexicon_word_index(lx, clean) >= 0;
        }
        if (known) continue;
        memcpy(raw, a + sa, (size_t)(na - sa));
        memcpy(raw + na - sa, b, (size_t)eb);
        raw[na - sa + eb] = 0;
        int nc = icstr_score_clean(ICSTR_SCORE_STANDARD, raw, clean, sizeof clean), w;
        if (nc < ICSTR_LEXICON_WORD_MIN || !icstr_lexicon_has_letter(clean, nc) ||
            (w = icstr_lexicon_nearest_word(lx, clean, nc, max_ned)) < 0)
            continue;
        edge_of[k] = j, word_of[k++] = w;
    }
    int n = 0;
    for (int c = 0; c <= k; c++) { /* c < k: merge c alone; c == k: all (when more than one) */
        if (c == k && k < 2) break;
        char *o = out + (size_t)n * PIECES_TEXT;
        size_t len = 0;
        int ok = 1, skip_head = 0; /* bytes of piece j already written as a merged word */
        int gap = 0; /* a space before what comes next: some cut since was between words (as
                        icstr_line_join), or it is the rest of a piece whose first word was merged */
        for (int j = 0; j < lr->n_pieces && ok; j++) {
            const char *s = lr->piece[j] + skip_head;
            int ns = lr->piece_len[j] - skip_head, mine = -1;
            while (ns && s[0] == ' ') s++, ns--;
            if ((skip_head && ns) || !lr->glued || !lr->glued[j]) gap = 1; /* after a merged word: its rest */
            skip_head = 0;
            for (int t = 0; t < k; t++)
                if (edge_of[t] == j && (c == k || t == c)) mine = t;
            int keep = ns;
            if (mine >= 0) { /* this piece's last word and the next one's first become the word */
                while (keep && s[keep - 1] != ' ') keep--;
                const char *b = lr->piece[j + 1];
                while (skip_head < lr->piece_len[j + 1] && b[skip_head] != ' ') skip_head++;
            }
            const char *word = mine >= 0 ? lx->words[word_of[mine]].word : "";
            size_t wl = strlen(word);
            if (!ns && mine < 0) continue;
            if (len + 1 + keep + wl >= PIECES_TEXT) ok = 0;
            else {
                if (len && o[len - 1] != ' ' && (keep || wl) && gap) o[len++] = ' ';
                if (keep || wl) gap = 0;
                memcpy(o + len, s, (size_t)keep), len += keep;
                memcpy(o + len, word, wl), len += wl;
            }
        }
        while (len && o[len - 1] == ' ') len--;
        o[len] = 0;
        if (ok) n++;
    }
    return n;
}

/* Whether a candidate's part may stand for a piece's reading: a piece that shows text gets some,
 * and at least half as many letters and digits as it shows (summed log-probabilities favour
 * shorter parts: "CHANGE (RM) :" read "Change" + "{RM} :" must not become the label "CHANGE :") */
static int part_fits(const char *part, const char *piece, int piece_len) {
    char clean[PIECES_TEXT], raw[PIECES_TEXT];
    if (!part[0]) return !piece_len;
    memcpy(raw, piece, (size_t)piece_len);
    raw[piece_len] = 0;
    int shown = icstr_score_clean(ICSTR_SCORE_STANDARD, raw, clean, sizeof clean);
    return 2 * icstr_score_clean(ICSTR_SCORE_STANDARD, part, clean, sizeof clean) >= shown;
}

/* Scores the line's own reading (text 0, cut as its pieces read it) and its candidates (1..nc)
 * on the pieces' latents: sums[c] the sum over the pieces, -INFINITY for a candidate whose parts
 * the model cannot write (for the reading itself: *skip = 1, the line is left alone). */
static int score_line(icstr_model *m, const float *latents, line_reading *lr, const char *cands, int nc, int L,
                      int *tok, int *len, float *lat, double *lp, double *sums, int *skip) {
    const icstr_model_config *mc = icstr_model_get_config(m);
    size_t per = (size_t)mc->latents * mc->dec_dim;
    int P = lr->n_pieces, q = 0, at[ICSTR_LINE_MAX_PIECES + 1];
    char part[PIECES_TEXT];
    *skip = 0;
    for (int c = 0; c <= nc; c++) {
        const char *t = c ? cands + (size_t)(c - 1) * PIECES_TEXT : NULL;
        if (t) cut_candidate(lr, t, at);
        int ok = 1;
        for (int j = 0; j < P && ok; j++) {
            const char *s;
            int n = t ? trimmed(t + at[j], at[j + 1] - at[j], &s) : (s = lr->piece[j], lr->piece_len[j]);
            memcpy(part, s, (size_t)n);
            part[n] = 0;
            if (t && !part_fits(part, lr->piece[j], lr->piece_len[j])) {
                ok = 0;
                break;
            }
            if (icstr_model_encode_label(m, part, tok + (size_t)(q + j) * L, &len[q + j])) {
                icstr_clear_error();
                ok = 0;
            } else {
                memcpy(lat + (size_t)(q + j) * per, latents + (size_t)j * per, per * sizeof(float));
            }
        }
        if (!ok && !c) return *skip = 1, ICSTR_OK;
        sums[c] = ok ? 0.0 : -INFINITY;
        if (ok) q += P;
    }
    int rc = icstr_model_score(m, lat, q, NULL, tok, len, 1, lp);
    for (int c = 0, s = 0; c <= nc && !rc; c++) {
        if (sums[c] == -INFINITY) continue;
        for (int j = 0; j < P; j++) sums[c] += lp[s++];
    }
    return rc;
}

int icstr_pool_lexicon_correct_pieces(const icstr_pool_lexicon *lx, icstr_model *m, const float *latents,
                                      int n_lines, const int *first, const int *count, char *const *piece_texts,
                                      const unsigned char *const *glued, const icstr_lexicon_params *p, char **texts,
                                      int cap, float *confidence, unsigned char *corrected) {
    for (int i = 0; corrected && i < n_lines; i++) corrected[i] = 0;
    if (!lx || lx->n == 0 || n_lines <= 0) return ICSTR_OK;
    const icstr_model_config *mc = icstr_model_get_config(m);
    int L = lx->max_label, C = p->candidates > 0 ? p->candidates : 1, NC = C + MERGES + 1;
    size_t per = (size_t)mc->latents * mc->dec_dim, slots = (size_t)(NC + 1) * ICSTR_LINE_MAX_PIECES;
    line_reading lr;
    lr.dp = malloc((size_t)(PIECES_TEXT + 1) * (PIECES_TEXT + 1) * sizeof *lr.dp);
    char *cands = malloc((size_t)NC * PIECES_TEXT), clean[PIECES_TEXT];
    int *tok = malloc(slots * L * sizeof *tok), *len = malloc(slots * sizeof *len), *cand = malloc((size_t)C * sizeof *cand);
    double *lp = malloc(slots * sizeof *lp), *sums = malloc(((size_t)NC + 1) * sizeof *sums);
    double *dist = malloc((size_t)C * sizeof *dist);
    float *lat = icstr_alloc(slots * per, sizeof(float));
    int rc = lr.dp && cands && tok && len && cand && lp && sums && dist && lat
                 ? ICSTR_OK
                 : icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: lines in pieces");
    for (int i = 0; i < n_lines && !rc; i++) {
        if (count[i] < 2 || count[i] > ICSTR_LINE_MAX_PIECES ||
            !read_line(&lr, piece_texts + first[i], glued ? glued[i] : NULL, count[i]))
            continue;
        int ncl = icstr_score_clean(ICSTR_SCORE_STANDARD, texts[i], clean, sizeof clean), nc = 0, skip;
        int k = ncl > 0 ? icstr_lexicon_nearest_labels(lx, clean, ncl, p, C, cand, dist) : 0;
        if (k < 0) continue; /* a label already */
        for (int c = 0; c < k; c++)
            if (strlen(lx->labels[cand[c]]) < PIECES_TEXT) strcpy(cands + (size_t)nc++ * PIECES_TEXT, lx->labels[cand[c]]);
        if (p->word_ned > 0.0f) nc += merge_candidates(lx, &lr, p->word_ned, cands + (size_t)nc * PIECES_TEXT);
        if (!nc) continue;
        rc = score_line(m, latents + (size_t)first[i] * per, &lr, cands, nc, L, tok, len, lat, lp, sums, &skip);
        if (rc || skip) continue;
        int best = 1;
        for (int c = 2; c <= nc; c++)
            if (sums[c] > sums[best]) best = c;
        const char *t = cands + (size_t)(best - 1) * PIECES_TEXT;
        if (sums[best] == -INFINITY || sums[best] < sums[0] - p->margin || strlen(t) >= (size_t)cap) continue;
        strcpy(texts[i], t);
        confidence[i] = (float)exp(sums[best]);
        if (corrected) corrected[i] = 1;
    }
    free(lr.dp), free(cands), free(tok), free(len), free(cand), free(lp), free(sums), free(dist);
    icstr_free(lat);
    return rc;
}
