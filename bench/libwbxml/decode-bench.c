/* libwbxml's decoder on a WBXML file, for bench/wbxml.ts: prints "<parse MB/s> <tree MB/s>".
 * parse: wbxml_parser_parse without a content handler (tokenising only);
 * tree:  wbxml_tree_from_wbxml (a document tree, as easd's decode builds one).
 * libwbxml2-dev installs no header for the parser and tree functions, so they are declared here
 * from the exported symbols. Build: gcc -O2 decode-bench.c $(pkg-config --cflags --libs libwbxml2) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wbxml/wbxml.h>

void *wbxml_parser_create(void);
void wbxml_parser_destroy(void *parser);
WB_BOOL wbxml_parser_set_language(void *parser, WBXMLLanguage lang);
WBXMLError wbxml_parser_parse(void *parser, WB_UTINY *wbxml, WB_ULONG wbxml_len);
WBXMLError wbxml_tree_from_wbxml(WB_UTINY *wbxml, WB_ULONG wbxml_len, WBXMLLanguage lang,
                                 WBXMLCharsetMIBEnum charset, void **tree);
void wbxml_tree_destroy(void *tree);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Best MB/s over 8 rounds of `seconds`/8 each. */
static double measure(int tree, WB_UTINY *data, long len, double seconds) {
  double best = 0;
  for (int round = 0; round < 8; round++) {
    long n = 0;
    double start = now(), elapsed;
    do {
      if (tree) {
        void *t = NULL;
        if (wbxml_tree_from_wbxml(data, len, WBXML_LANG_ACTIVESYNC, WBXML_CHARSET_UNKNOWN, &t) != WBXML_OK) {
          fprintf(stderr, "wbxml_tree_from_wbxml failed\n");
          exit(1);
        }
        wbxml_tree_destroy(t);
      } else {
        void *p = wbxml_parser_create();
        wbxml_parser_set_language(p, WBXML_LANG_ACTIVESYNC);
        if (wbxml_parser_parse(p, data, len) != WBXML_OK) {
          fprintf(stderr, "wbxml_parser_parse failed\n");
          exit(1);
        }
        wbxml_parser_destroy(p);
      }
      n++;
      elapsed = now() - start;
    } while (elapsed < seconds / 8);
    double mbs = (double)len * n / elapsed / 1e6;
    if (mbs > best) best = mbs;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s file.wbxml seconds\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  WB_UTINY *data = malloc(len);
  if (fread(data, 1, len, f) != (size_t)len) return 1;
  fclose(f);
  double seconds = atof(argv[2]);
  printf("%.1f %.1f\n", measure(0, data, len, seconds), measure(1, data, len, seconds));
  return 0;
}
