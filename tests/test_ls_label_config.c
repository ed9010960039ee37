// Label config parsing (cli/labelstudio/label_config.h): class names from the RectangleLabels
// control in config order, aliases, categories, entities, comments/CDATA/processing instructions,
// case-insensitive tags, and every malformed or ambiguous config -> YL_ERR_FORMAT with a message.
#include "cli/labelstudio/label_config.h"
#include "test_common.h"

#define FIXTURE_DIR YL_TEST_FIXTURES "/labelstudio"

static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, file);
    text[n] = '\0';
    fclose(file);
    return text;
}

static void test_fixture(void) {
    char *xml = read_text(FIXTURE_DIR "/label_config.xml");
    yl_ls_label_config config;
    CHECK_OK(yl_ls_label_config_parse(xml, NULL, &config));
    CHECK(config.num_labels == 2, "2 classes, got %d", config.num_labels);
    if (config.num_labels == 2) {
        CHECK(!strcmp(config.labels[0].name, "Airplane") && !strcmp(config.labels[1].name, "Car"),
              "config order: %s, %s", config.labels[0].name, config.labels[1].name);
        CHECK(config.labels[0].category == -1, "no category");
    }
    CHECK(config.control_name && !strcmp(config.control_name, "label"), "control name");
    CHECK(config.object_name && !strcmp(config.object_name, "image"), "object name");
    CHECK(config.image_key && !strcmp(config.image_key, "image"), "image key");
    CHECK(fabs(config.score_threshold - 0.25) < 1e-12, "threshold %g", config.score_threshold);
    CHECK(config.num_rectangle_controls == 1 && !config.obb, "one control, not OBB");
    CHECK(yl_ls_label_config_find(&config, "Car") == 1 && yl_ls_label_config_find(&config, "Commented") == -1 &&
              yl_ls_label_config_find(&config, "car") == -1,
          "find is exact");
    yl_ls_label_config_free(&config);
    free(xml);
}

static void test_aliases_entities_and_odd_syntax(void) {
    const char *xml =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE View>\n"
        "<view>\n"
        "  <![CDATA[ <RectangleLabels name=\"fake\" toName=\"img\"><Label value=\"X\"/></RectangleLabels> ]]>\n"
        "  <image name='img' value='$photo_url'/>\n"
        "  <rectanglelabels name=\"boxes\" toName=\" img \" model_obb=\"true\" score_threshold=\"0.4\">\n"
        "    <Label value=\"Car &amp; Truck\" category=\"3\"/>\n"
        "    <Label value=\"caf&#233;\" alias=\"cafe\"/>\n"
        "    <Label value=\"&#x4E2D;&lt;&gt;&quot;&apos;\"></Label>\n"
        "  </RECTANGLELABELS>\n"
        "</View>\n";
    yl_ls_label_config config;
    CHECK_OK(yl_ls_label_config_parse(xml, NULL, &config));
    CHECK(config.num_labels == 3, "3 classes, got %d", config.num_labels);
    if (config.num_labels == 3) {
        CHECK(!strcmp(config.labels[0].name, "Car & Truck") && config.labels[0].category == 3, "entity and category");
        CHECK(!strcmp(config.labels[1].name, "cafe") && !strcmp(config.labels[1].value, "caf\xc3\xa9"),
              "alias is the name, value decoded to UTF-8: %s", config.labels[1].value);
        CHECK(!strcmp(config.labels[2].name, "\xe4\xb8\xad<>\"'"), "hex reference and named entities: %s",
              config.labels[2].name);
        CHECK(yl_ls_label_config_find(&config, "caf\xc3\xa9") == 1, "find by value when an alias exists");
    }
    CHECK(config.image_key && !strcmp(config.image_key, "photo_url"), "image key without $");
    CHECK(config.object_name && !strcmp(config.object_name, "img"), "toName trimmed");
    CHECK(config.obb == 1 && fabs(config.score_threshold - 0.4) < 1e-12, "obb and legacy score_threshold");
    yl_ls_label_config_free(&config);
}

static void test_class_map(void) {
    const char *xml =
        "<View><Image name=\"image\" value=\"$image\"/>"
        "<RectangleLabels name=\"label\" toName=\"image\">"
        "<Label value=\"Vehicle\" predicted_values=\" car ,truck,  \"/>"
        "<Label value=\"Dent\" alias=\"dentado\"/>"
        "<Label value=\"car\"/>"
        "<Label value=\"Perforation\"/>"
        "</RectangleLabels></View>";
    yl_ls_label_config config;
    CHECK_OK(yl_ls_label_config_parse(xml, NULL, &config));
    CHECK(config.labels[0].predicted_values && !strcmp(config.labels[0].predicted_values, " car ,truck,  "),
          "predicted_values kept as written");
    CHECK(config.labels[1].predicted_values == NULL, "no predicted_values: NULL");
    CHECK(yl_ls_label_config_map_class(&config, "car") == 0, "predicted_values wins over a label named car");
    CHECK(yl_ls_label_config_map_class(&config, "truck") == 0, "second item of predicted_values");
    CHECK(yl_ls_label_config_map_class(&config, "tru") == -1 && yl_ls_label_config_map_class(&config, "") == -1,
          "a prefix or an empty name of a list item is no match");
    CHECK(yl_ls_label_config_map_class(&config, "dentado") == 1 && yl_ls_label_config_map_class(&config, "Dent") == 1,
          "alias and value");
    CHECK(yl_ls_label_config_map_class(&config, "perforation") == 3, "case-insensitive fallback");
    CHECK(yl_ls_label_config_map_class(&config, "concave") == -1, "unknown class");
    CHECK(yl_ls_label_config_map_class(&config, "Truck") == -1, "predicted_values match exactly (no case folding)");
    yl_ls_label_config_free(&config);
}

static void test_choosing_a_control(void) {
    const char *xml = "<View><Image name=\"a\" value=\"$a\"/><Image name=\"b\" value=\"$b\"/>"
                      "<RectangleLabels name=\"first\" toName=\"a\"><Label value=\"x\"/></RectangleLabels>"
                      "<RectangleLabels name=\"second\" toName=\"b\"><Label value=\"y\"/><Label value=\"z\"/>"
                      "</RectangleLabels></View>";
    yl_ls_label_config config;
    CHECK_STATUS(yl_ls_label_config_parse(xml, NULL, &config), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "'first'") && strstr(yl_last_error(), "'second'"), "names both: %s", yl_last_error());
    CHECK_OK(yl_ls_label_config_parse(xml, "second", &config));
    CHECK(config.num_labels == 2 && !strcmp(config.image_key, "b") && config.num_rectangle_controls == 2,
          "picked the named control");
    yl_ls_label_config_free(&config);
    CHECK_STATUS(yl_ls_label_config_parse(xml, "third", &config), YL_ERR_FORMAT);
}

typedef struct {
    const char *xml;
    const char *message_part;
} bad_config;

static void test_bad_configs(void) {
    static const bad_config cases[] = {
        {"", "no XML elements"},
        {"<View><Image name=\"i\" value=\"$i\"/><Choices name=\"c\" toName=\"i\"><Choice "
         "value=\"a\"/></Choices></View>",
         "no <RectangleLabels>"},
        {"<View>\n<Image name=\"i\" value=\"$i\"/>\n<RectangleLabels name=\"l\" toName=\"i\"><Label "
         "value=\"a\"/>\n</View>",
         "line 4: </View> closes <RectangleLabels> opened on line 3"},
        {"<View><!-- never closed <RectangleLabels/>", "unterminated comment"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\" toName=\"i\"/></View>", "no <Label>"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\" toName=\"i\"><Label value=\"a\"/>"
         "<Label value=\"a\"/></RectangleLabels></View>",
         "the label 'a' twice"},
        {"<View><Text name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\" toName=\"i\"><Label value=\"a\"/>"
         "</RectangleLabels></View>",
         "not an <Image>"},
        {"<View><Image name=\"i\" value=\"http://x/y.jpg\"/><RectangleLabels name=\"l\" toName=\"i\"><Label "
         "value=\"a\"/>"
         "</RectangleLabels></View>",
         "needs value=\"$<data key>\""},
        {"<View><Image name=\"i\" value=\"$i\"/><Image name=\"j\" value=\"$j\"/><RectangleLabels name=\"l\" "
         "toName=\"i,j\">"
         "<Label value=\"a\"/></RectangleLabels></View>",
         "several objects"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\" toName=\"i\"><Label background=\"red\"/>"
         "</RectangleLabels></View>",
         "<Label> without a value"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\" toName=\"i\"><Label value=\"a&bogus;\"/>"
         "</RectangleLabels></View>",
         "malformed character reference"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels toName=\"i\"><Label "
         "value=\"a\"/></RectangleLabels></View>",
         "has no name"},
        {"<View><Image name=\"i\" value=\"$i\"/><RectangleLabels name=\"l\"><Label "
         "value=\"a\"/></RectangleLabels></View>",
         "has no toName"},
        {"<View><Image name=\"i\" value=\"$i\" <RectangleLabels/></View>", "unexpected character"},
        {"<View><Image name=\"i\" value=\"$i/></View>", "unterminated"},
        {"<View></View></View>", "closing tag without an open element"},
        {"<View><Image name=\"i\" value=\"$i\"/>", "never closed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yl_ls_label_config config;
        CHECK_STATUS(yl_ls_label_config_parse(cases[i].xml, NULL, &config), YL_ERR_FORMAT);
        CHECK(strstr(yl_last_error(), cases[i].message_part), "case %zu: expected '%s' in: %s", i,
              cases[i].message_part, yl_last_error());
        CHECK(config.labels == NULL && config.num_labels == 0, "case %zu: output cleared", i);
    }
    yl_ls_label_config config;
    CHECK_STATUS(yl_ls_label_config_parse(NULL, NULL, &config), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ls_label_config_parse("<View/>", NULL, NULL), YL_ERR_INVALID_ARG);
    CHECK(yl_ls_label_config_find(NULL, "a") == -1, "find on NULL");
}

static void test_xml_decode(void) {
    char *s = yl_xml_decode("a&amp;b&#65;&#x42;&#x1F600;", strlen("a&amp;b&#65;&#x42;&#x1F600;"));
    CHECK(s && !strcmp(s, "a&bAB\xf0\x9f\x98\x80"), "decode: %s", s ? s : "(null)");
    free(s);
    CHECK(
        yl_xml_decode("&#0;", 4) == NULL && yl_xml_decode("&amp", 4) == NULL && yl_xml_decode("&#x110000;", 10) == NULL,
        "bad references refused");
}

int main(void) {
    test_fixture();
    test_aliases_entities_and_odd_syntax();
    test_class_map();
    test_choosing_a_control();
    test_bad_configs();
    test_xml_decode();
    return yl_test_finish("test_ls_label_config");
}
