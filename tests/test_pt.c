// The Ultralytics .pt reader against Ultralytics itself (fixtures from
// tools/reference/make_pt_fixtures.py, Ultralytics 8.3.166 + torch 1.13):
//  - tiny_epoch0.pt (raw training checkpoint, prefix archive/, model None, FP16 EMA, optimizer)
//    and tiny_best.pt (stripped, prefix best/): every state entry's name, order, shape, dtype
//    and bytes equal to the EMA state_dict Ultralytics dumped (tiny_state.safetensors);
//    names, nc, stride, scale, epoch, date, version, every train_arg and every Conv's
//    activation class equal to what Python read from the same file;
//  - tiny_v84_bf16.pt (SPPF.cv1 act = Identity, bfloat16 storages, prefix from the file name):
//    BF16 entries equal to round-to-nearest-even of the FP16 values, checked independently
//    against a few entries Python dumped, and the Identity activation found;
//  - the pickle reader's values on small pickles Python wrote (tests/fuzz/corpus/pickle).
#include <cjson/cJSON.h>
#include <math.h>

#include "test_common.h"
#include "weights/pickle.h"
#include "weights/pt_checkpoint.h"
#include "weights/safetensors.h"
#include "pt_test_util.h"

#define PT_DIR YL_TEST_FIXTURES "/pt"
#define CORPUS_DIR YL_TEST_FIXTURES "/../fuzz/corpus"

static cJSON *meta_json(const yl_safetensors *st, const char *key) {
    const char *text = yl_safetensors_metadata(st, key);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECK(j != NULL, "metadata '%s' missing or not JSON", key);
    return j;
}

// Shapes come from the state_shapes metadata: fixture_io stores 0-d tensors as (1,).
static bool same_shape(const yl_named_tensor *t, const cJSON *shapes) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(shapes, t->name);
    if (!cJSON_IsArray(shape) || t->ndim != cJSON_GetArraySize(shape)) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble) return false;
    return true;
}

// Order from the state_order list (the safetensors header is sorted by width), then per entry:
// shape, dtype and bytes.
static void check_state(const yl_pt_checkpoint *ck, const yl_safetensors *ref, const char *label) {
    cJSON *order = meta_json(ref, "state_order"), *shapes = meta_json(ref, "state_shapes");
    if (!order || !shapes) return;
    CHECK(ck->tensors.count == cJSON_GetArraySize(order) && ck->tensors.count == ref->count,
          "%s: %d entries, Ultralytics has %d", label, ck->tensors.count, cJSON_GetArraySize(order));
    int i = 0, bad = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, order) {
        if (i >= ck->tensors.count) break;
        const yl_named_tensor *t = &ck->tensors.items[i++];
        if (strcmp(t->name, item->valuestring) != 0) {
            CHECK(bad++ > 3, "%s: entry %d is '%s', Ultralytics' state_dict has '%s'", label, i - 1, t->name,
                  item->valuestring);
            continue;
        }
        const yl_safetensors_entry *e = yl_safetensors_find(ref, t->name);
        CHECK(e != NULL, "%s: '%s' not in the reference", label, t->name);
        if (!e) continue;
        CHECK(same_shape(t, shapes), "%s: '%s' shape differs (ndim %d)", label, t->name, t->ndim);
        CHECK(t->dtype == e->dtype, "%s: '%s' dtype %s, Ultralytics %s", label, t->name, yl_dtype_name(t->dtype),
              yl_dtype_name(e->dtype));
        CHECK(t->nbytes == e->nbytes && memcmp(t->data, yl_safetensors_data(ref, e), e->nbytes) == 0,
              "%s: '%s' bytes differ (%zu vs %zu bytes)", label, t->name, t->nbytes, e->nbytes);
    }
    cJSON_Delete(order);
    cJSON_Delete(shapes);
}

static void check_metadata(const yl_pt_checkpoint *ck, const yl_safetensors *ref, const char *label,
                           const char *epoch_key, const char *date_key, const char *version_key, const char *args_key) {
    cJSON *names = meta_json(ref, "names"), *stride = meta_json(ref, "stride"), *acts = meta_json(ref, "activations"),
          *args = meta_json(ref, args_key);
    CHECK(ck->nc == atoi(yl_safetensors_metadata(ref, "nc")), "%s: nc %d", label, ck->nc);
    if (names) {
        CHECK(ck->names_count == cJSON_GetArraySize(names), "%s: %d names", label, ck->names_count);
        for (int i = 0; i < ck->names_count; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", i);
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(names, id);
            CHECK(n && ck->names[i] && strcmp(ck->names[i], n->valuestring) == 0, "%s: names[%d] = '%s'", label, i,
                  ck->names[i] ? ck->names[i] : "(null)");
        }
    }
    if (stride) {
        CHECK(ck->stride_count == cJSON_GetArraySize(stride), "%s: %d strides", label, ck->stride_count);
        for (int i = 0; i < ck->stride_count && i < cJSON_GetArraySize(stride); i++)
            CHECK(ck->stride[i] == cJSON_GetArrayItem(stride, i)->valuedouble, "%s: stride[%d] = %g", label, i,
                  ck->stride[i]);
    }
    const char *scale = yl_safetensors_metadata(ref, "scale");
    CHECK(scale && ck->scale == scale[0], "%s: scale '%c', expected '%s'", label, ck->scale ? ck->scale : '-', scale);
    CHECK(ck->has_epoch && ck->epoch == atoll(yl_safetensors_metadata(ref, epoch_key)), "%s: epoch %lld", label,
          (long long)ck->epoch);
    CHECK(ck->date && strcmp(ck->date, yl_safetensors_metadata(ref, date_key)) == 0, "%s: date '%s'", label,
          ck->date ? ck->date : "(null)");
    CHECK(ck->version && strcmp(ck->version, yl_safetensors_metadata(ref, version_key)) == 0, "%s: version '%s'",
          label, ck->version ? ck->version : "(null)");
    CHECK(strcmp(ck->model_class, "ultralytics.nn.tasks.DetectionModel") == 0, "%s: model class %s", label,
          ck->model_class);
    if (acts) {
        CHECK(ck->activation_count == cJSON_GetArraySize(acts), "%s: %d activations, Ultralytics has %d Convs", label,
              ck->activation_count, cJSON_GetArraySize(acts));
        const cJSON *a;
        cJSON_ArrayForEach(a, acts) {
            const yl_pt_activation *got = yl_pt_checkpoint_activation(ck, a->string);
            const char *short_name = got ? strrchr(got->type, '.') : NULL;
            CHECK(short_name && strcmp(short_name + 1, a->valuestring) == 0, "%s: %s.act is %s, expected %s", label,
                  a->string, got ? got->type : "(missing)", a->valuestring);
            yl_pt_activation_kind want = strcmp(a->valuestring, "SiLU") == 0       ? YL_PT_ACT_SILU
                                         : strcmp(a->valuestring, "Identity") == 0 ? YL_PT_ACT_IDENTITY
                                                                                   : YL_PT_ACT_OTHER;
            CHECK(got && got->kind == want, "%s: %s.act kind %d", label, a->string, got ? (int)got->kind : -1);
        }
    }
    if (args) {
        int compared = 0;
        const cJSON *a;
        cJSON_ArrayForEach(a, args) {
            const char *got = yl_pt_checkpoint_train_arg(ck, a->string);
            CHECK(got && strcmp(got, a->valuestring) == 0, "%s: train_args[%s] = '%s', Python str() gives '%s'", label,
                  a->string, got ? got : "(missing)", a->valuestring);
            compared++;
        }
        CHECK(compared > 90 && ck->train_args_count == compared, "%s: %d train_args, %d compared", label,
              ck->train_args_count, compared);
    }
    cJSON_Delete(names);
    cJSON_Delete(stride);
    cJSON_Delete(acts);
    cJSON_Delete(args);
}

static void test_ultralytics_checkpoints(void) {
    yl_safetensors ref;
    CHECK_OK(yl_safetensors_open(&ref, PT_DIR "/tiny_state.safetensors"));
    yl_pt_checkpoint raw, best;
    CHECK_OK(yl_pt_checkpoint_load(&raw, PT_DIR "/tiny_epoch0.pt"));
    CHECK(strcmp(raw.prefix, "archive") == 0 && strcmp(raw.source, "ema") == 0, "raw: prefix %s source %s", raw.prefix,
          raw.source);
    check_state(&raw, &ref, "tiny_epoch0.pt");
    check_metadata(&raw, &ref, "tiny_epoch0.pt", "epoch", "date", "version", "train_args");
    // Only the EMA's storages are read: the optimizer's momentum buffers stay in the file.
    CHECK(raw.storage_count == raw.tensors.count + 1, "raw: %d storages read for %d entries + stride",
          raw.storage_count, raw.tensors.count);

    CHECK_OK(yl_pt_checkpoint_load(&best, PT_DIR "/tiny_best.pt"));
    CHECK(strcmp(best.prefix, "best") == 0 && strcmp(best.source, "model") == 0, "best: prefix %s source %s",
          best.prefix, best.source);
    check_state(&best, &ref, "tiny_best.pt");
    check_metadata(&best, &ref, "tiny_best.pt", "best_epoch", "best_date", "best_version", "best_train_args");
    printf("  tiny_epoch0.pt: %d entries from '%s/' (%s), tiny_best.pt: %d entries from '%s/' (%s), nc=%d scale=%c\n",
           raw.tensors.count, raw.prefix, raw.source, best.tensors.count, best.prefix, best.source, best.nc,
           best.scale);

    const yl_named_tensor *w = yl_pt_checkpoint_find(&best, "model.0.conv.weight");
    CHECK(w && w->dtype == YL_F16 && w->ndim == 4 && w->shape[0] == 8 && w->shape[1] == 3, "model.0.conv.weight");
    const yl_named_tensor *nbt = yl_pt_checkpoint_find(&best, "model.0.bn.num_batches_tracked");
    CHECK(nbt && nbt->dtype == YL_I64 && nbt->ndim == 0 && nbt->nbytes == 8, "num_batches_tracked is an i64 scalar");
    CHECK(yl_pt_checkpoint_find(&best, "model.0.conv.bias") == NULL, "Conv2d(bias=False) has no bias entry");
    const yl_named_tensor *dfl = yl_pt_checkpoint_find(&best, "model.22.dfl.conv.weight");
    float bins[16];
    CHECK(dfl && yl_pt_tensor_to_f32(dfl, bins, 16) == YL_OK, "dfl weight to f32");
    for (int i = 0; dfl && i < 16; i++) CHECK(bins[i] == (float)i, "dfl bin %d = %g", i, bins[i]);
    CHECK_STATUS(yl_pt_tensor_to_f32(dfl, bins, 15), YL_ERR_SHAPE);
    CHECK(strcmp(yl_pt_checkpoint_train_arg(&best, "optimizer"), "SGD") == 0, "optimizer arg");
    CHECK(yl_pt_checkpoint_train_arg(&best, "no_such_arg") == NULL && yl_pt_checkpoint_find(&best, "nope") == NULL &&
              yl_pt_checkpoint_activation(&best, "model.0.conv") == NULL,
          "absent lookups return NULL");

    yl_pt_checkpoint_free(&raw);
    yl_pt_checkpoint_free(&best);
    yl_pt_checkpoint_free(&best);  // freeing twice is harmless
    yl_safetensors_close(&ref);
}

// Independent conversions for the BF16 check: exact f16 -> double, then float -> bf16 RNE.
static float f16_value(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return (float)(sign ? -v : v);
}

static uint16_t bf16_rne(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static void test_bf16_identity_checkpoint(void) {
    yl_safetensors ref, check;
    CHECK_OK(yl_safetensors_open(&ref, PT_DIR "/tiny_state.safetensors"));
    CHECK_OK(yl_safetensors_open(&check, PT_DIR "/tiny_v84_bf16_check.safetensors"));
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, PT_DIR "/tiny_v84_bf16.pt"));
    CHECK(strcmp(ck.prefix, "tiny_v84_bf16") == 0, "prefix from the saved file name: %s", ck.prefix);
    check_metadata(&ck, &check, "tiny_v84_bf16.pt", "epoch", "date", "version", "train_args");
    const yl_pt_activation *sppf = yl_pt_checkpoint_activation(&ck, "model.9.cv1");
    CHECK(sppf && sppf->kind == YL_PT_ACT_IDENTITY, "model.9.cv1.act is Identity");
    const yl_pt_activation *sppf2 = yl_pt_checkpoint_activation(&ck, "model.9.cv2");
    CHECK(sppf2 && sppf2->kind == YL_PT_ACT_SILU, "model.9.cv2.act is SiLU");

    CHECK(ck.tensors.count == ref.count, "%d entries", ck.tensors.count);
    cJSON *shapes = meta_json(&check, "state_shapes");
    int mismatches = 0;
    for (int i = 0; i < ck.tensors.count; i++) {
        const yl_named_tensor *t = &ck.tensors.items[i];
        const yl_safetensors_entry *e = yl_safetensors_find(&ref, t->name);
        if (!e) {
            CHECK(0, "bf16: '%s' not in the FP16 reference", t->name);
            continue;
        }
        CHECK(same_shape(t, shapes), "bf16: '%s' shape", t->name);
        if (e->dtype == YL_I64) {
            CHECK(t->dtype == YL_I64 && t->nbytes == 8 && !memcmp(t->data, yl_safetensors_data(&ref, e), 8), "%s",
                  t->name);
            continue;
        }
        CHECK(t->dtype == YL_BF16 && t->nbytes == e->nbytes, "bf16: '%s' dtype %s", t->name, yl_dtype_name(t->dtype));
        const uint16_t *h = yl_safetensors_data(&ref, e);
        const unsigned char *b = t->data;
        for (size_t k = 0; k < e->nbytes / 2 && t->nbytes == e->nbytes; k++) {
            uint16_t got;
            memcpy(&got, b + 2 * k, 2);
            if (got != bf16_rne(f16_value(h[k]))) mismatches++;
        }
    }
    CHECK(mismatches == 0, "bf16: %d values differ from RNE(f16)", mismatches);
    cJSON_Delete(shapes);
    for (int i = 0; i < check.count; i++) {  // the few entries Python dumped as exact F32
        const yl_safetensors_entry *e = &check.entries[i];
        const yl_named_tensor *t = yl_pt_checkpoint_find(&ck, e->name);
        CHECK(t != NULL, "bf16: '%s' missing", e->name);
        if (!t || e->dtype != YL_F32) continue;
        size_t n = e->nbytes / 4;
        float *got = yl_test_alloc(n);
        CHECK_OK(yl_pt_tensor_to_f32(t, got, n));
        CHECK(memcmp(got, yl_safetensors_data(&check, e), e->nbytes) == 0, "bf16: '%s' differs from Python's value",
              e->name);
        free(got);
    }
    yl_pt_checkpoint_free(&ck);
    yl_safetensors_close(&ref);
    yl_safetensors_close(&check);
}

static const yl_pickle_value *load_corpus(yl_pickle **p, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/pickle/%s", CORPUS_DIR, name);
    size_t size;
    unsigned char *data = pt_read_file(path, &size);
    CHECK_OK(yl_pickle_load(p, data, size, name));
    free(data);
    return yl_pickle_root(*p);
}

static bool is_int(const yl_pickle_value *v, int64_t x) { return v && v->kind == YL_PICKLE_INT && v->as.integer == x; }
static bool is_str(const yl_pickle_value *v, const char *s) {
    return v && v->kind == YL_PICKLE_STR && strcmp(v->as.str.data, s) == 0;
}

// Values Python pickled (make_pt_fixtures.py): [1, -2, 300, 70000, 2**40, -(2**63), 1.5, True,
// False, None, "é", b"xy", (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {"k": [1, 2]}, {1, 2}] at protocol 2.
static void test_pickle_values(void) {
    yl_pickle *p = NULL;
    const yl_pickle_value *r = load_corpus(&p, "scalars.pkl");
    CHECK(r && r->kind == YL_PICKLE_LIST && yl_pickle_len(r) == 18, "scalars: a list of 18");
    if (r && yl_pickle_len(r) == 18) {
        CHECK(is_int(yl_pickle_item(r, 0), 1) && is_int(yl_pickle_item(r, 1), -2) &&
                      is_int(yl_pickle_item(r, 2), 300) && is_int(yl_pickle_item(r, 3), 70000) &&
                      is_int(yl_pickle_item(r, 4), (int64_t)1 << 40) && is_int(yl_pickle_item(r, 5), INT64_MIN),
              "ints (BININT1/BININT/BININT2/LONG1)");
        const yl_pickle_value *f = yl_pickle_item(r, 6);
        CHECK(f->kind == YL_PICKLE_FLOAT && f->as.number == 1.5, "BINFLOAT");
        CHECK(yl_pickle_item(r, 7)->kind == YL_PICKLE_BOOL && yl_pickle_item(r, 7)->as.boolean &&
                  !yl_pickle_item(r, 8)->as.boolean && yl_pickle_item(r, 9)->kind == YL_PICKLE_NONE,
              "True False None");
        CHECK(is_str(yl_pickle_item(r, 10), "\xc3\xa9"), "UTF-8 str");
        const yl_pickle_value *b = yl_pickle_item(r, 11);
        CHECK(b->kind == YL_PICKLE_BYTES && b->as.str.size == 2 && !memcmp(b->as.str.data, "xy", 2),
              "bytes via _codecs.encode");
        for (int k = 1; k <= 4; k++) {
            const yl_pickle_value *t = yl_pickle_item(r, 11 + (size_t)k);
            CHECK(t->kind == YL_PICKLE_TUPLE && yl_pickle_len(t) == (size_t)k &&
                          is_int(yl_pickle_item(t, (size_t)k - 1), k),
                  "tuple of %d", k);
        }
        const yl_pickle_value *d = yl_pickle_item(r, 16);
        CHECK(d->kind == YL_PICKLE_DICT && yl_pickle_len(yl_pickle_dict_get(d, "k")) == 2, "dict");
        const yl_pickle_value *s = yl_pickle_item(r, 17);
        CHECK(s->kind == YL_PICKLE_LIST && yl_pickle_len(s) == 2, "set -> list");
    }
    yl_pickle_free(p);

    r = load_corpus(&p, "memo_shared.pkl");  // [[1, 2]] * 3: one list, referenced three times
    CHECK(yl_pickle_len(r) == 3 && yl_pickle_item(r, 0) == yl_pickle_item(r, 2) &&
                  yl_pickle_len(yl_pickle_item(r, 1)) == 2,
          "memo shares one object");
    yl_pickle_free(p);

    r = load_corpus(&p, "namespace_p4.pkl");  // protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL
    const yl_pickle_value *ns = yl_pickle_dict_get(r, "args");
    CHECK(yl_pickle_is_class(ns, "types", "SimpleNamespace"), "SimpleNamespace object");
    CHECK(is_int(yl_pickle_object_attr(ns, "imgsz"), 64), "namespace attribute imgsz");
    const yl_pickle_value *lr = yl_pickle_object_attr(ns, "lr0");
    CHECK(lr && lr->kind == YL_PICKLE_FLOAT && lr->as.number == 0.01, "namespace attribute lr0");
    yl_pickle_free(p);

    r = load_corpus(&p, "conv2d_fp16.pkl");  // {'model': Conv2d(1, 2, 1).half(), 'epoch': 3, ...}
    const yl_pickle_value *conv = yl_pickle_dict_get(r, "model");
    CHECK(yl_pickle_is_class(conv, "torch.nn.modules.conv", "Conv2d"), "Conv2d object");
    CHECK(is_int(yl_pickle_dict_get(r, "epoch"), 3), "epoch");
    const yl_pickle_value *params = yl_pickle_object_attr(conv, "_parameters");
    CHECK(yl_pickle_len(params) == 2 && is_str(params ? params->as.dict.keys[0] : NULL, "weight"),
          "OrderedDict of parameters, in order");
    yl_pickle_free(p);
}

int main(void) {
    test_ultralytics_checkpoints();
    test_bf16_identity_checkpoint();
    test_pickle_values();
    return yl_test_finish("test_pt");
}
