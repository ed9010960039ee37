// The yoloop model an Ultralytics .pt checkpoint describes: scaling from its yaml (or its scale
// letter), nc, and every Conv's activation as the checkpoint pickled it (yolov8.md §9: a module
// tree from 8.4 has SPPF.cv1 with Identity; the pickled objects decide, not the version).
#pragma once
#include "engine/model/model_config.h"
#include "weights/pt_checkpoint.h"

// Fills *cfg: the named scale when the checkpoint's multipliers are that scale's (or it records
// only the letter), else a custom config from the yaml's depth/width/max_channels (no channel
// limit = 4096). Conv activations: SiLU stays the default, Identity becomes a per-Conv choice; any
// other class is YL_ERR_UNSUPPORTED naming the module and the class. Missing nc or scaling is
// YL_ERR_FORMAT.
yl_status yl_pt_checkpoint_model_config(const yl_pt_checkpoint *ck, yl_model_config *cfg);
