// The class names of a Label Studio project, read from its XML label config (spec §2.1, §4):
//
//   <View>
//     <Image name="image" value="$image"/>
//     <RectangleLabels name="label" toName="image">
//       <Label value="Airplane"/> <Label value="Car" alias="car" category="1"/>
//     </RectangleLabels>
//   </View>
//
// A small XML scanner, not a validating parser: it understands elements, attributes (either
// quote), self-closing tags, comments, CDATA, processing instructions, DOCTYPE and the XML
// character references, and reports mismatched tags with their line. Tag names match without
// regard to case.
#pragma once
#include <stddef.h>

#include "engine/core/status.h"

typedef struct {
    char *name;    // what annotation results carry: the alias when present, else the value
    char *value;   // the Label's value attribute
    int category;  // explicit category="N", -1 when absent
    char *predicted_values;  // predicted_values="car, truck": model classes shown as this label; NULL
} yl_ls_label;

typedef struct {
    char *control_name;  // the RectangleLabels name: results' from_name
    char *object_name;   // its toName: results' to_name
    char *image_key;     // the task data key of the image URL ("$image" -> "image")
    int num_labels;
    yl_ls_label *labels;  // in config order
    double score_threshold;  // model_score_threshold (or legacy score_threshold); -1 when absent
    int obb;                 // model_obb="true"
    int num_rectangle_controls;  // RectangleLabels controls in the whole config
} yl_ls_label_config;

// Parses `xml` and describes the RectangleLabels control named `control_name`, or the only one
// when control_name is NULL. Fails (YL_ERR_FORMAT, with a line number where it helps) on
// malformed XML, no or several RectangleLabels controls, a control without labels, a Label
// without value, duplicate label names, or a toName that is not an <Image> with a $variable.
yl_status yl_ls_label_config_parse(const char *xml, const char *control_name, yl_ls_label_config *out);
void yl_ls_label_config_free(yl_ls_label_config *config);

// Index of `label` (matched against name, then value) in config order, -1 when unknown.
int yl_ls_label_config_find(const yl_ls_label_config *config, const char *label);

// The label a model class is shown as (spec §6, the reference backend's label map): the first
// Label whose predicted_values lists the class (comma-separated, blanks around items ignored,
// exact match), else yl_ls_label_config_find, else a name or value equal without regard to case;
// -1 when none.
int yl_ls_label_config_map_class(const yl_ls_label_config *config, const char *model_class);

// Decodes the five XML entities and &#N; / &#xN; references of text[0..length) into a new
// string (UTF-8). NULL when out of memory or when a reference is malformed.
char *yl_xml_decode(const char *text, size_t length);
