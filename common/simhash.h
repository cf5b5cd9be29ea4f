/* simhash.h -- "the same matter": a 64-bit SimHash of a text.
 *
 * Each run of three characters (blanks, punctuation and case ignored) votes
 * on every bit with its own hash; the fingerprint keeps the majority. Texts
 * that say the same thing in nearly the same words differ in a few bits, two
 * unrelated texts in about half of them (docs/ARCHITECTURE.md has the figures on
 * real messages). Intake uses it to link an order to the requester's earlier
 * order of the same matter (DOMAIN.md 分类处置). */
#ifndef JS_SIMHASH_H
#define JS_SIMHASH_H

#include <stddef.h>
#include <stdint.h>

/* Prototypes */
/* Fingerprint of len bytes of UTF-8 (invalid bytes are skipped); *shingles
 * (may be NULL) gets the number of three-character runs that voted: below a
 * dozen or so a fingerprint says little. A text of one or two characters
 * hashes them whole; an empty one gives 0. */
uint64_t js_simhash(const char *text, size_t len, size_t *shingles);
int js_simhash_distance(uint64_t a, uint64_t b); /* bits that differ, 0..64 */

#endif
