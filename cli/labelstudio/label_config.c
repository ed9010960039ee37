#include "cli/labelstudio/label_config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ATTRIBUTES 64
#define MAX_DEPTH 128

// ---- a minimal XML scanner ---------------------------------------------------------------------

typedef enum { TOKEN_START, TOKEN_EMPTY, TOKEN_END, TOKEN_EOF } token_kind;

typedef struct {
    const char *name, *value;  // value is raw (entities not decoded)
    size_t name_length, value_length;
} xml_attribute;

typedef struct {
    token_kind kind;
    const char *name;
    size_t name_length;
    size_t offset;  // of the '<'
    int num_attributes;
    xml_attribute attributes[MAX_ATTRIBUTES];
} xml_token;

typedef struct {
    const char *text;
    size_t position, length;
} xml_scanner;

static int line_of(const char *text, size_t offset) {
    int line = 1;
    for (size_t i = 0; i < offset && text[i]; i++) line += text[i] == '\n';
    return line;
}

static int is_name_byte(char c) {
    return c && !isspace((unsigned char)c) && c != '=' && c != '/' && c != '>' && c != '<' && c != '"' && c != '\'';
}

// Skips to just past `terminator`; 0 when it never comes.
static int skip_past(xml_scanner *s, const char *terminator) {
    const char *found = strstr(s->text + s->position, terminator);
    if (!found) return 0;
    s->position = (size_t)(found - s->text) + strlen(terminator);
    return 1;
}

static yl_status scan_error(const xml_scanner *s, size_t offset, const char *what) {
    return yl_error(YL_ERR_FORMAT, "label config: line %d: %s", line_of(s->text, offset), what);
}

static void skip_space(xml_scanner *s) {
    while (s->position < s->length && isspace((unsigned char)s->text[s->position])) s->position++;
}

static yl_status next_token(xml_scanner *s, xml_token *token) {
    const char *t = s->text;
    for (;;) {
        const char *lt = strchr(t + s->position, '<');  // text between tags is not needed
        if (!lt) {
            token->kind = TOKEN_EOF;
            return YL_OK;
        }
        size_t start = (size_t)(lt - t);
        s->position = start;
        if (!strncmp(lt, "<!--", 4)) {
            if (!skip_past(s, "-->")) return scan_error(s, start, "unterminated comment");
        } else if (!strncmp(lt, "<![CDATA[", 9)) {
            if (!skip_past(s, "]]>")) return scan_error(s, start, "unterminated CDATA section");
        } else if (!strncmp(lt, "<?", 2)) {
            if (!skip_past(s, "?>")) return scan_error(s, start, "unterminated processing instruction");
        } else if (!strncmp(lt, "<!", 2)) {
            if (!skip_past(s, ">")) return scan_error(s, start, "unterminated declaration");
        } else {
            break;
        }
    }
    size_t start = s->position;
    token->offset = start;
    token->num_attributes = 0;
    s->position++;
    int closing = t[s->position] == '/';
    if (closing) s->position++;
    token->name = t + s->position;
    while (s->position < s->length && is_name_byte(t[s->position])) s->position++;
    token->name_length = (size_t)(t + s->position - token->name);
    if (token->name_length == 0) return scan_error(s, start, "'<' not followed by a tag name");
    for (;;) {
        skip_space(s);
        if (s->position >= s->length) return scan_error(s, start, "unterminated tag");
        char c = t[s->position];
        if (c == '>') {
            s->position++;
            token->kind = closing ? TOKEN_END : TOKEN_START;
            return YL_OK;
        }
        if (c == '/' && t[s->position + 1] == '>' && !closing) {
            s->position += 2;
            token->kind = TOKEN_EMPTY;
            return YL_OK;
        }
        if (closing || !is_name_byte(c)) return scan_error(s, s->position, "unexpected character in tag");
        xml_attribute attribute = {.name = t + s->position};
        while (s->position < s->length && is_name_byte(t[s->position])) s->position++;
        attribute.name_length = (size_t)(t + s->position - attribute.name);
        skip_space(s);
        attribute.value = t + s->position;  // an attribute without "=value" has an empty value
        if (t[s->position] == '=') {
            s->position++;
            skip_space(s);
            char quote = t[s->position];
            if (quote == '"' || quote == '\'') {
                const char *end = strchr(t + s->position + 1, quote);
                if (!end) return scan_error(s, s->position, "unterminated attribute value");
                attribute.value = t + s->position + 1;
                attribute.value_length = (size_t)(end - attribute.value);
                s->position = (size_t)(end - t) + 1;
            } else {  // unquoted (not XML, but harmless to accept)
                attribute.value = t + s->position;
                while (s->position < s->length && is_name_byte(t[s->position])) s->position++;
                attribute.value_length = (size_t)(t + s->position - attribute.value);
            }
        }
        if (token->num_attributes == MAX_ATTRIBUTES) return scan_error(s, start, "too many attributes");
        token->attributes[token->num_attributes++] = attribute;
    }
}

static void put_utf8(char **w, unsigned long code) {
    unsigned char *p = (unsigned char *)*w;
    if (code < 0x80) {
        *p++ = (unsigned char)code;
    } else if (code < 0x800) {
        *p++ = (unsigned char)(0xc0 | (code >> 6));
        *p++ = (unsigned char)(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
        *p++ = (unsigned char)(0xe0 | (code >> 12));
        *p++ = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
        *p++ = (unsigned char)(0x80 | (code & 0x3f));
    } else {
        *p++ = (unsigned char)(0xf0 | (code >> 18));
        *p++ = (unsigned char)(0x80 | ((code >> 12) & 0x3f));
        *p++ = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
        *p++ = (unsigned char)(0x80 | (code & 0x3f));
    }
    *w = (char *)p;
}

char *yl_xml_decode(const char *text, size_t length) {
    char *out = malloc(length + 1);  // decoding never grows the text (&#x10FFFF; is 10 bytes > 4)
    if (!out) return NULL;
    char *w = out;
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < length;) {
        if (text[i] != '&') {
            *w++ = text[i++];
            continue;
        }
        const char *semicolon = memchr(text + i, ';', length - i);
        if (!semicolon) goto malformed;
        size_t reference_length = (size_t)(semicolon - (text + i)) + 1;
        int done = 0;
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
            if (reference_length - 1 == strlen(named[k].name) &&
                !strncmp(text + i + 1, named[k].name, reference_length - 1)) {
                *w++ = named[k].c;
                done = 1;
            }
        }
        if (!done) {
            if (text[i + 1] != '#' || reference_length < 4) goto malformed;
            int hex = text[i + 2] == 'x' || text[i + 2] == 'X';
            const char *digits = text + i + (hex ? 3 : 2);
            char *end = NULL;
            unsigned long code = strtoul(digits, &end, hex ? 16 : 10);
            if (end != semicolon || end == digits || code == 0 || code > 0x10ffff) goto malformed;
            put_utf8(&w, code);
        }
        i += reference_length;
    }
    *w = '\0';
    return out;
malformed:
    free(out);
    return NULL;
}

// ---- the label config ----------------------------------------------------------------------------

static int name_is(const char *name, size_t length, const char *expected) {
    return strlen(expected) == length && !strncasecmp(name, expected, length);
}

static const xml_attribute *find_attribute(const xml_token *token, const char *name) {
    for (int i = 0; i < token->num_attributes; i++)
        if (name_is(token->attributes[i].name, token->attributes[i].name_length, name)) return &token->attributes[i];
    return NULL;
}

// The decoded value of an attribute, a new string; *out = NULL when absent.
static yl_status attribute_value(const xml_scanner *s, const xml_token *token, const char *name, char **out) {
    *out = NULL;
    const xml_attribute *attribute = find_attribute(token, name);
    if (!attribute) return YL_OK;
    *out = yl_xml_decode(attribute->value, attribute->value_length);
    if (!*out)
        return yl_error(YL_ERR_FORMAT, "label config: line %d: malformed character reference in %s=\"%.*s\"",
                        line_of(s->text, token->offset), name, (int)attribute->value_length, attribute->value);
    return YL_OK;
}

typedef struct {
    char *name, *value;
} object_tag;  // <Image name value>

typedef struct {
    int line;
    char *name, *to_name, *threshold, *obb;
    int num_labels, capacity;
    yl_ls_label *labels;
} control_tag;

typedef struct {
    object_tag *objects;
    int num_objects, objects_capacity;
    control_tag *controls;
    int num_controls, controls_capacity;
} config_scan;

static void free_labels(yl_ls_label *labels, int n) {
    for (int i = 0; i < n; i++) {
        free(labels[i].name);
        free(labels[i].value);
        free(labels[i].predicted_values);
    }
    free(labels);
}

static void scan_free(config_scan *scan) {
    for (int i = 0; i < scan->num_objects; i++) {
        free(scan->objects[i].name);
        free(scan->objects[i].value);
    }
    free(scan->objects);
    for (int i = 0; i < scan->num_controls; i++) {
        control_tag *c = &scan->controls[i];
        free(c->name);
        free(c->to_name);
        free(c->threshold);
        free(c->obb);
        free_labels(c->labels, c->num_labels);
    }
    free(scan->controls);
}

static int grow(void **items, int *capacity, int count, size_t item_size) {
    if (count < *capacity) return 1;
    int next = *capacity ? *capacity * 2 : 8;
    void *grown = realloc(*items, (size_t)next * item_size);
    if (!grown) return 0;
    *items = grown;
    *capacity = next;
    return 1;
}

static yl_status add_label(const xml_scanner *s, const xml_token *token, control_tag *control) {
    char *value = NULL, *alias = NULL, *category = NULL, *predicted = NULL;
    yl_status status = attribute_value(s, token, "value", &value);
    if (status == YL_OK) status = attribute_value(s, token, "alias", &alias);
    if (status == YL_OK) status = attribute_value(s, token, "predicted_values", &predicted);
    if (status == YL_OK) status = attribute_value(s, token, "category", &category);
    if (status == YL_OK && (!value || !value[0]))
        status = yl_error(YL_ERR_FORMAT, "label config: line %d: <Label> without a value in RectangleLabels '%s'",
                          line_of(s->text, token->offset), control->name ? control->name : "?");
    int category_value = -1;
    if (status == YL_OK && category && category[0]) {
        char *end = NULL;
        long parsed = strtol(category, &end, 10);
        if (*end == '\0' && parsed >= 0 && parsed < 1000000) category_value = (int)parsed;
        // a non-integer category is what Label Studio's converter ignores too
    }
    if (status == YL_OK &&
        !grow((void **)&control->labels, &control->capacity, control->num_labels, sizeof(yl_ls_label)))
        status = yl_error(YL_ERR_OOM, "label config: out of memory");
    if (status != YL_OK) {
        free(value);
        free(alias);
        free(category);
        free(predicted);
        return status;
    }
    free(category);
    yl_ls_label *label = &control->labels[control->num_labels++];
    label->value = value;
    label->category = category_value;
    label->predicted_values = predicted;
    if (alias && alias[0]) {
        label->name = alias;
    } else {
        free(alias);
        label->name = malloc(strlen(value) + 1);
        if (!label->name) return yl_error(YL_ERR_OOM, "label config: out of memory");
        strcpy(label->name, value);
    }
    return YL_OK;
}

static yl_status scan_config(const char *xml, config_scan *scan) {
    xml_scanner s = {.text = xml, .length = strlen(xml)};
    xml_token token;
    const char *open_names[MAX_DEPTH];
    size_t open_lengths[MAX_DEPTH];
    size_t open_offsets[MAX_DEPTH];
    int depth = 0, control_depth = -1, saw_element = 0;
    control_tag *control = NULL;
    for (;;) {
        YL_TRY(next_token(&s, &token));
        if (token.kind == TOKEN_EOF) break;
        saw_element = 1;
        if (token.kind == TOKEN_END) {
            if (depth == 0)
                return scan_error(&s, token.offset, "closing tag without an open element");
            if (token.name_length != open_lengths[depth - 1] ||
                strncasecmp(token.name, open_names[depth - 1], token.name_length) != 0) {
                return yl_error(YL_ERR_FORMAT, "label config: line %d: </%.*s> closes <%.*s> opened on line %d",
                                line_of(xml, token.offset), (int)token.name_length, token.name,
                                (int)open_lengths[depth - 1], open_names[depth - 1],
                                line_of(xml, open_offsets[depth - 1]));
            }
            depth--;
            if (depth == control_depth) {
                control = NULL;
                control_depth = -1;
            }
            continue;
        }
        if (name_is(token.name, token.name_length, "Image")) {
            if (!grow((void **)&scan->objects, &scan->objects_capacity, scan->num_objects, sizeof(object_tag)))
                return yl_error(YL_ERR_OOM, "label config: out of memory");
            object_tag *object = &scan->objects[scan->num_objects++];
            memset(object, 0, sizeof *object);
            YL_TRY(attribute_value(&s, &token, "name", &object->name));
            YL_TRY(attribute_value(&s, &token, "value", &object->value));
        } else if (name_is(token.name, token.name_length, "RectangleLabels")) {
            if (control)
                return scan_error(&s, token.offset, "<RectangleLabels> nested inside another <RectangleLabels>");
            if (!grow((void **)&scan->controls, &scan->controls_capacity, scan->num_controls, sizeof(control_tag)))
                return yl_error(YL_ERR_OOM, "label config: out of memory");
            control_tag *c = &scan->controls[scan->num_controls++];
            memset(c, 0, sizeof *c);
            c->line = line_of(xml, token.offset);
            YL_TRY(attribute_value(&s, &token, "name", &c->name));
            YL_TRY(attribute_value(&s, &token, "toName", &c->to_name));
            YL_TRY(attribute_value(&s, &token, "model_score_threshold", &c->threshold));
            if (!c->threshold) YL_TRY(attribute_value(&s, &token, "score_threshold", &c->threshold));
            YL_TRY(attribute_value(&s, &token, "model_obb", &c->obb));
            if (token.kind == TOKEN_START) {
                control = c;
                control_depth = depth;
            }
        } else if (control && name_is(token.name, token.name_length, "Label")) {
            YL_TRY(add_label(&s, &token, control));
        }
        if (token.kind == TOKEN_START) {
            if (depth == MAX_DEPTH) return scan_error(&s, token.offset, "elements nested too deeply");
            open_names[depth] = token.name;
            open_lengths[depth] = token.name_length;
            open_offsets[depth] = token.offset;
            depth++;
        }
    }
    if (!saw_element) return yl_error(YL_ERR_FORMAT, "label config: no XML elements (empty config?)");
    if (depth > 0)
        return yl_error(YL_ERR_FORMAT, "label config: line %d: <%.*s> is never closed",
                        line_of(xml, open_offsets[depth - 1]), (int)open_lengths[depth - 1], open_names[depth - 1]);
    return YL_OK;
}

static char *copy_string(const char *s) {
    char *copy = malloc(strlen(s) + 1);
    if (copy) strcpy(copy, s);
    return copy;
}

static void trim_in_place(char *s) {
    size_t start = 0, end = strlen(s);
    while (start < end && isspace((unsigned char)s[start])) start++;
    while (end > start && isspace((unsigned char)s[end - 1])) end--;
    memmove(s, s + start, end - start);
    s[end - start] = '\0';
}

static yl_status describe_control(const config_scan *scan, control_tag *control, yl_ls_label_config *out) {
    const char *name = control->name ? control->name : "";
    if (!control->name || !control->name[0])
        return yl_error(YL_ERR_FORMAT, "label config: line %d: <RectangleLabels> has no name", control->line);
    if (!control->to_name || !control->to_name[0])
        return yl_error(YL_ERR_FORMAT, "label config: line %d: RectangleLabels '%s' has no toName", control->line,
                        name);
    trim_in_place(control->to_name);
    if (strchr(control->to_name, ','))
        return yl_error(YL_ERR_FORMAT,
                        "label config: RectangleLabels '%s' labels several objects (toName=\"%s\"); one image per "
                        "task is supported",
                        name, control->to_name);
    const object_tag *image = NULL;
    for (int i = 0; i < scan->num_objects; i++)
        if (scan->objects[i].name && !strcmp(scan->objects[i].name, control->to_name)) image = &scan->objects[i];
    if (!image)
        return yl_error(YL_ERR_FORMAT,
                        "label config: RectangleLabels '%s' points at toName=\"%s\", which is not an <Image>", name,
                        control->to_name);
    if (!image->value || image->value[0] != '$' || !image->value[1])
        return yl_error(YL_ERR_FORMAT, "label config: <Image name=\"%s\"> needs value=\"$<data key>\" (has \"%s\")",
                        control->to_name, image->value ? image->value : "");
    if (control->num_labels == 0)
        return yl_error(YL_ERR_FORMAT, "label config: line %d: RectangleLabels '%s' has no <Label> (no classes)",
                        control->line, name);
    for (int i = 0; i < control->num_labels; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(control->labels[i].name, control->labels[j].name))
                return yl_error(YL_ERR_FORMAT, "label config: RectangleLabels '%s' has the label '%s' twice", name,
                                control->labels[i].name);
    out->control_name = control->name;
    out->object_name = control->to_name;
    out->image_key = copy_string(image->value + 1);
    if (!out->image_key) return yl_error(YL_ERR_OOM, "label config: out of memory");
    out->labels = control->labels;
    out->num_labels = control->num_labels;
    out->score_threshold = control->threshold && control->threshold[0] ? strtod(control->threshold, NULL) : -1.0;
    out->obb = control->obb && (!strcasecmp(control->obb, "true") || !strcmp(control->obb, "1"));
    // ownership moved to `out`
    control->name = control->to_name = NULL;
    control->labels = NULL;
    control->num_labels = 0;
    return YL_OK;
}

yl_status yl_ls_label_config_parse(const char *xml, const char *control_name, yl_ls_label_config *out) {
    if (!xml || !out) return yl_error(YL_ERR_INVALID_ARG, "label config: NULL config text or output");
    memset(out, 0, sizeof *out);
    config_scan scan = {0};
    yl_status status = scan_config(xml, &scan);
    control_tag *chosen = NULL;
    if (status == YL_OK) {
        out->num_rectangle_controls = scan.num_controls;
        if (scan.num_controls == 0) {
            status =
                yl_error(YL_ERR_FORMAT,
                         "label config: no <RectangleLabels> control; object detection needs one, e.g. "
                         "<RectangleLabels name=\"label\" toName=\"image\"><Label value=\"car\"/></RectangleLabels>");
        } else if (control_name) {
            for (int i = 0; i < scan.num_controls; i++)
                if (scan.controls[i].name && !strcmp(scan.controls[i].name, control_name)) chosen = &scan.controls[i];
            if (!chosen) status = yl_error(YL_ERR_FORMAT, "label config: no RectangleLabels named '%s'", control_name);
        } else if (scan.num_controls > 1) {
            char names[256] = "";
            for (int i = 0; i < scan.num_controls; i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "",
                         scan.controls[i].name ? scan.controls[i].name : "?");
            }
            status = yl_error(YL_ERR_FORMAT, "label config: %d RectangleLabels controls (%s); name the one to use",
                              scan.num_controls, names);
        } else {
            chosen = &scan.controls[0];
        }
    }
    if (status == YL_OK) status = describe_control(&scan, chosen, out);
    scan_free(&scan);
    if (status != YL_OK) yl_ls_label_config_free(out);
    return status;
}

void yl_ls_label_config_free(yl_ls_label_config *config) {
    if (!config) return;
    free(config->control_name);
    free(config->object_name);
    free(config->image_key);
    free_labels(config->labels, config->num_labels);
    memset(config, 0, sizeof *config);
}

int yl_ls_label_config_find(const yl_ls_label_config *config, const char *label) {
    if (!config || !label) return -1;
    for (int i = 0; i < config->num_labels; i++)
        if (!strcmp(config->labels[i].name, label)) return i;
    for (int i = 0; i < config->num_labels; i++)
        if (!strcmp(config->labels[i].value, label)) return i;
    return -1;
}

// Whether the comma-separated `list` holds `item` (blanks around each entry ignored; an empty
// entry holds nothing).
static bool list_holds(const char *list, const char *item) {
    size_t want = strlen(item);
    if (want == 0) return false;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
        if ((size_t)(last - p) == want && !strncmp(p, item, want)) return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

int yl_ls_label_config_map_class(const yl_ls_label_config *config, const char *model_class) {
    if (!config || !model_class) return -1;
    for (int i = 0; i < config->num_labels; i++)
        if (config->labels[i].predicted_values && list_holds(config->labels[i].predicted_values, model_class)) return i;
    int index = yl_ls_label_config_find(config, model_class);
    for (int i = 0; index < 0 && i < config->num_labels; i++)
        if (!strcasecmp(config->labels[i].name, model_class) || !strcasecmp(config->labels[i].value, model_class))
            index = i;
    return index;
}
