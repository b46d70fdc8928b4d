/* json.h - writing JSON text. */
#ifndef SR_JSON_H
#define SR_JSON_H

#include <stdio.h>

/* s as a JSON string (null for NULL); invalid UTF-8 bytes become U+FFFD. */
void sr_json_str(FILE *out, const char *s);

#endif
