// The list of image files a data.yaml split names, gathered as Ultralytics' get_img_files does:
// each source is a directory (scanned recursively, hidden entries skipped), a .txt file listing
// one image per line (a line starting with "./" is relative to the .txt's folder; other relative
// lines are taken as given, i.e. relative to the working directory, as Ultralytics does), or an
// image file itself. Only files with an image extension (yl_has_image_extension) are kept, and the
// combined list is sorted bytewise (Python's sorted() on str).
#pragma once
#include "engine/core/status.h"

typedef struct {
    char **paths;  // owned
    int count;
    int capacity;
} yl_path_list;

// Appends the images of one source. A source that does not exist is an error naming it.
yl_status yl_path_list_add_source(yl_path_list *list, const char *source);
yl_status yl_path_list_append(yl_path_list *list, const char *path);
void yl_path_list_sort(yl_path_list *list);
void yl_path_list_free(yl_path_list *list);
